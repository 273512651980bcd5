//! The `dockvar` binary: runs the CLI and turns its outcome into an exit code.

// Parsing thousands of small files allocates a lot from several threads; mimalloc does that
// markedly faster than glibc's allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(dockvar::cli::main());
}
