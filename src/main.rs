use clap::Parser;

fn main() -> std::process::ExitCode {
    prepbot::cli::run(prepbot::cli::Cli::parse())
}
