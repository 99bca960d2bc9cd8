//! ldirectord.cf → typed configuration (work in progress).
