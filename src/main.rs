//! The `acme-sectigo-bridge` binary: everything lives in the library; this only hands over control.

fn main() -> std::process::ExitCode {
    acme_sectigo_bridge::cli::main()
}
