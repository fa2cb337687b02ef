//! Property-style test: pseudo-random batches checked against every limit and for
//! value conservation, without extra crates.

use super::*;

/// xorshift64: deterministic pseudo-random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const UNITS: [Unit; 5] = [
    Unit::Count,
    Unit::Milliseconds,
    Unit::Bytes,
    Unit::Percent,
    Unit::None,
];

/// The identity under which values come back: dimensions, name, unit, resolution.
type Key = (Dims, String, Unit, Resolution);

fn random_value(rng: &mut Rng) -> (f64, bool) {
    match rng.below(20) {
        0 => (
            [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e200, -1e-200][rng.below(5)],
            false,
        ),
        1 => (
            [
                1.174_271e108,
                -8.515_92e-109,
                0.0,
                -0.0,
                9_999_999_999_999_998.0,
            ][rng.below(5)],
            true,
        ),
        2..=9 => (rng.below(100_000) as f64, true),
        _ => ((rng.next() % 2_000_000) as f64 / 7.0 - 100_000.0, true),
    }
}

/// A random batch, with what the encoder must make of it: the good values per key in
/// order, and the expected rejection counts.
fn random_batch(rng: &mut Rng) -> (MetricBatch, BTreeMap<Key, Vec<f64>>, usize, usize) {
    let wide: Dims = (0..30)
        .map(|i| (format!("D{i:02}"), format!("value{i}")))
        .collect();
    let too_wide: Dims = (0..31)
        .map(|i| (format!("D{i:02}"), "v".to_owned()))
        .collect();
    let function = ("FunctionName".to_owned(), "orders".to_owned());
    let rule = |r: &str| ("Rule".to_owned(), r.to_owned());
    let dim_sets = [
        vec![function.clone()],
        vec![function.clone(), rule("login")],
        vec![function.clone(), rule("signup")],
        vec![],
        wide,
    ];

    let mut expected: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let (mut values_rejected, mut series_rejected) = (0, 0);
    let mut all = Vec::new();
    let count = if rng.chance(10) { 0 } else { rng.below(600) };
    for _ in 0..count {
        let mut s = Series {
            name: if rng.chance(5) {
                format!("{}{}", rng.below(10), "ü".repeat(254))
            } else {
                format!("M{}", rng.below(150))
            },
            unit: UNITS[rng.below(UNITS.len())],
            resolution: if rng.chance(30) {
                Resolution::High
            } else {
                Resolution::Standard
            },
            dimensions: dim_sets[if rng.chance(50) {
                0
            } else {
                rng.below(dim_sets.len())
            }]
            .clone(),
            values: Vec::new(),
            counts: Vec::new(),
        };
        let n = if rng.chance(15) {
            rng.below(260)
        } else {
            rng.below(4)
        };
        let mut good = Vec::new();
        let mut bad = 0;
        for _ in 0..n {
            let (value, ok) = random_value(rng);
            s.values.push(value);
            if ok { good.push(value) } else { bad += 1 }
        }
        let valid = match rng.below(40) {
            0 => {
                s.name = ["", "_aws", "a\tb"][rng.below(3)].to_owned();
                false
            }
            1 => {
                s.dimensions = too_wide.clone();
                false
            }
            2 => {
                s.dimensions = vec![function.clone()];
                s.name = "FunctionName".to_owned();
                false
            }
            3 => {
                s.dimensions = vec![function.clone(), rule("")];
                false
            }
            _ => true,
        };
        if n > 0 {
            if valid {
                values_rejected += bad;
                let key = (s.dimensions.clone(), s.name.clone(), s.unit, s.resolution);
                expected.entry(key).or_default().extend(good);
            } else {
                series_rejected += 1;
                values_rejected += n;
            }
        }
        all.push(s);
    }
    (
        MetricBatch {
            timestamp_ms: rng.next() >> 20,
            series: all,
        },
        expected,
        values_rejected,
        series_rejected,
    )
}

#[test]
fn random_batches_respect_every_limit_and_lose_nothing() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..300 {
        let (input, expected, values_rejected, series_rejected) = random_batch(&mut rng);
        let encoder = if rng.chance(50) {
            encoder()
        } else {
            encoder().with_max_document_bytes(4096 + rng.below(100_000))
        };
        let (docs, stats) = run(&encoder, &input);
        assert_eq!(stats.values_rejected, values_rejected, "round {round}");
        assert_eq!(stats.series_rejected, series_rejected, "round {round}");

        let mut read: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
        for doc in &docs {
            for m in &doc.metrics {
                let key = (doc.dimensions.clone(), m.name.clone(), m.unit, m.resolution);
                read.entry(key).or_default().extend(&m.values);
            }
        }
        let expected: BTreeMap<Key, Vec<f64>> = expected
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .collect();
        assert_eq!(
            read.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "round {round}"
        );
        for (key, sent) in &expected {
            let got = &read[key];
            assert_eq!(got.len(), sent.len(), "round {round} {key:?}");
            assert!(
                got.iter().zip(sent).all(|(a, b)| close(*a, *b)),
                "round {round} {key:?}"
            );
        }
    }
}
