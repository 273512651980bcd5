//! The `dockvar` binary: runs the CLI and turns its outcome into an exit code.

fn main() {
    std::process::exit(dockvar::cli::main());
}
