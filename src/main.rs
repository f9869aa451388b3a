//! `nca`: the sandbox window and the headless tools. All logic lives in the library.

fn main() -> std::process::ExitCode {
    nca_sandbox::cli::main()
}
