//! Fuzz the lvs.cf reader and converter (`ldirectord convert`): any bytes
//! either convert or are refused with errors, never a panic; and whatever
//! converts, with or without --lenient and with either --ha companion, is
//! an ldirectord.cf our own parser loads.
#![no_main]

use std::path::Path;

use ldirectord::config::{self, names::Lookup};
use ldirectord::piranha::{self, Ha, Options, Placement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cfg = config::Options {
        lookup: Lookup::HostsFile,
        hostname: "fuzzhost".into(),
    };
    for lenient in [false, true] {
        for ha in [None, Some(Ha::Keepalived), Some(Ha::Pacemaker)] {
            let opts = Options {
                lenient,
                ha,
                lookup: Lookup::HostsFile,
                placement: Placement::stdout(),
                source: "fuzz.cf".into(),
            };
            match piranha::convert_bytes(data, &opts) {
                Ok(c) => {
                    if let Err(e) = config::load_str(&c.printable(), Path::new("out.cf"), &cfg) {
                        panic!("the converted file does not load:\n{e}\n{}", c.cf);
                    }
                }
                Err(diags) => assert!(diags.iter().any(|d| d.is_error())),
            }
        }
    }
});
