//! The fleet bench: `cargo bench -p liftwatch-fleet [-- --sizes 10,100 --minutes 10]`
//! plays each fleet size under the design before issue 16 and now, and prints what the
//! shared tables and CloudWatch see and what it costs (docs/SCALING.md holds a run).
#![allow(clippy::print_stdout)]

use liftwatch_fleet::report::{COST_HEADER, HEADER, HOT_HEADER};
use liftwatch_fleet::sim::run;
use liftwatch_fleet::workload::{Design, Workload};

fn main() {
    let mut sizes = vec![10, 100, 1_000, 10_000, 100_000];
    let mut minutes = 10;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--sizes" => {
                if let Some(list) = args.next() {
                    sizes = list
                        .split(',')
                        .filter_map(|s| s.trim().parse().ok())
                        .collect();
                }
            }
            "--minutes" => {
                if let Some(m) = args.next().and_then(|m| m.parse().ok()) {
                    minutes = m;
                }
            }
            _ => {} // `--bench`, passed by cargo
        }
    }
    let mut reports = Vec::new();
    for &n in &sizes {
        for design in [Design::Before, Design::After] {
            let mut workload = Workload::new(n, design);
            workload.measure_minutes = minutes;
            reports.push(run(&workload));
        }
    }
    println!(
        "Fleet model: {minutes} measured minutes after the scale-out (100 sandboxes/s) and 2 minutes of warm-up.\n"
    );
    println!("{HEADER}");
    for report in &reports {
        println!("{}", report.row());
    }
    println!("\n{HOT_HEADER}");
    for report in &reports {
        println!("{}", report.hot_row());
    }
    println!("\n{COST_HEADER}");
    for report in &reports {
        println!("{}", report.cost_row());
    }
}
