fn main() -> std::process::ExitCode {
    prepbot::cli::run(prepbot::cli::parse())
}
