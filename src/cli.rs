//! Command line (work in progress).
