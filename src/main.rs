//! The `ccrsim` binary: a thin wrapper around [`ccrsim::cli`].

fn main() {
    std::process::exit(ccrsim::cli::main());
}

/// jemalloc, with the settings of `.cargo/config.toml`: it returns what the
/// nodes' memtables free to the system, where glibc's malloc kept half of a
/// pair's memory as fragments (README, "Memory of a whole pair").
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
