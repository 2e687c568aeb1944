//! The `autoshop` binary: parse the command line and hand over to the library.

// GraphQL resolution allocates a little for every field; mimalloc serves that pattern far better than glibc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    autoshop::cli::main()
}
