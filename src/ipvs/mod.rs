//! IPVS over generic netlink. A leaf module: it imports nothing else of the
//! crate and knows nothing of ldirectord.cf or health checks.
