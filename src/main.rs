//! The `ldirectord` binary: everything happens in [`ldirectord::cli::run`].

fn main() {
    std::process::exit(ldirectord::cli::run(std::env::args_os().skip(1)));
}
