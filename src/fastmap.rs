//! The maps the daemon looks up on every check result and every status
//! snapshot (health by target and by pair, the last results, the virtuals
//! by key, the pool's schedule): `std`'s `HashMap`/`HashSet` with
//! foldhash's hasher instead of SipHash. Their keys come from the
//! configuration (targets, pairs, virtual services), never from the
//! network, so SipHash's resistance to chosen keys buys nothing there,
//! and it cost about 400 instructions per target hashed, several per
//! check (README, Design: "The check path"). Owns only these aliases;
//! must not be used for maps keyed by anything a peer sends.

/// A `HashMap` with foldhash's (per-process seeded) hasher.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A `HashSet` with foldhash's hasher.
pub type FastSet<T> = std::collections::HashSet<T, foldhash::fast::RandomState>;
