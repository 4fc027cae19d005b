//! The `strata` command: Strata's CLI with no Rust functions or IO managers registered.

fn main() -> std::process::ExitCode {
    strata_server::run(strata_server::Extensions::new())
}
