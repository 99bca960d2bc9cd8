//! Parser benchmark: time `config::load_file` on each file given, in
//! process (like benches/parse/upstream_parse.pl does for the Perl parser).
//!
//! usage: cargo bench --bench parse_config -- [-n ITERATIONS] FILE...
//! prints: file  min median max (ms)  virtuals

use std::path::Path;
use std::time::Instant;

use ldirectord::config::{self, names::Lookup, Options};

fn main() {
    let mut args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut iters = 20;
    if args.first().map(String::as_str) == Some("-n") {
        iters = args[1].parse().expect("-n ITERATIONS");
        args.drain(..2);
    }
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "benchhost".into(),
    };
    for file in &args {
        let mut times = Vec::with_capacity(iters);
        let mut virtuals = 0;
        for _ in 0..iters {
            let t0 = Instant::now();
            let loaded = config::load_file(Path::new(file), &opts);
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
            virtuals = match loaded {
                Ok(l) => l.config.virtuals.len(),
                Err(e) => panic!("{e}"),
            };
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        println!(
            "{file}\t{:.2} {:.2} {:.2}\t{virtuals}",
            times[0],
            times[times.len() / 2],
            times[times.len() - 1]
        );
    }
}
