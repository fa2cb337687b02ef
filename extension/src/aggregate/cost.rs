//! Estimated invocation cost from AWS Lambda's published on-demand list prices
//! (us-east-1, first pricing tier; other regions and volume tiers differ: the figure is an
//! estimate for comparing functions and trends, not a bill).

/// USD per GB-second of billed duration on x86_64.
pub const X86_64_PER_GB_SECOND: f64 = 0.000_016_666_7;
/// USD per GB-second of billed duration on arm64 (Graviton).
pub const ARM64_PER_GB_SECOND: f64 = 0.000_013_333_4;
/// USD per request ($0.20 per million).
pub const PER_REQUEST: f64 = 0.000_000_2;

/// The architecture the function runs on (the extension binary's own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    /// The architecture this binary was built for.
    pub fn current() -> Self {
        if cfg!(target_arch = "aarch64") {
            Architecture::Arm64
        } else {
            Architecture::X86_64
        }
    }

    fn per_gb_second(self) -> f64 {
        match self {
            Architecture::X86_64 => X86_64_PER_GB_SECOND,
            Architecture::Arm64 => ARM64_PER_GB_SECOND,
        }
    }
}

/// The estimated USD cost of one invocation.
pub fn invocation_cost(arch: Architecture, billed_ms: f64, memory_mb: f64) -> f64 {
    let gb_seconds = (billed_ms / 1000.0) * (memory_mb / 1024.0);
    gb_seconds * arch.per_gb_second() + PER_REQUEST
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_gb_for_one_second_costs_the_list_price_plus_the_request() {
        let x86 = invocation_cost(Architecture::X86_64, 1000.0, 1024.0);
        assert!((x86 - (X86_64_PER_GB_SECOND + PER_REQUEST)).abs() < 1e-15);
        let arm = invocation_cost(Architecture::Arm64, 1000.0, 1024.0);
        assert!((arm - (ARM64_PER_GB_SECOND + PER_REQUEST)).abs() < 1e-15);
        assert!(arm < x86);
    }

    #[test]
    fn a_128_mb_100_ms_invocation() {
        // 0.1 s × 0.125 GB = 0.0125 GB-s.
        let cost = invocation_cost(Architecture::X86_64, 100.0, 128.0);
        assert!((cost - (0.0125 * X86_64_PER_GB_SECOND + PER_REQUEST)).abs() < 1e-15);
    }
}
