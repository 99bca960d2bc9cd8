//! Fuzz the configuration parser: any input must either load or be rejected
//! with diagnostics, never panic; whatever loads must print as canonical
//! text that loads back as the same configuration; and the scanner
//! (src/config/scan.rs) must read every input it takes exactly as the pest
//! grammar does.
#![no_main]

use std::path::Path;

use ldirectord::config::{self, names::Lookup, Options};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = Options {
        lookup: Lookup::HostsFile,
        hostname: "fuzzhost".into(),
    };
    let path = Path::new("fuzz.cf");
    let text = String::from_utf8_lossy(data);
    if let Some(fast) = config::scan::parse(&text) {
        assert_eq!(
            fast,
            config::parser::parse_pest(&text),
            "the scanner and the grammar disagree"
        );
    }
    // The bytes as a file holds them: not UTF-8 is an error outside
    // comments (C30).
    match config::load_bytes(data, path, &opts) {
        Ok(loaded) => {
            let canonical = config::canonical::render(&loaded.config);
            let again = config::load_str(&canonical, path, &opts)
                .unwrap_or_else(|e| panic!("canonical text does not load:\n{e}\n{canonical}"));
            let strip = |c: &config::Config| {
                let mut c = c.clone();
                for v in &mut c.virtuals {
                    v.line = 0;
                    for r in &mut v.reals {
                        r.line = 0;
                    }
                }
                c
            };
            assert_eq!(strip(&loaded.config), strip(&again.config), "{canonical}");
        }
        Err(e) => {
            assert!(e.errors().next().is_some());
            let _ = e.to_string();
        }
    }
});
