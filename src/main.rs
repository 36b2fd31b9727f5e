//! The `ccrsim` binary: a thin wrapper around [`ccrsim::cli`].

fn main() {
    std::process::exit(ccrsim::cli::main());
}
