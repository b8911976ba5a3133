//! mechafil-api: the HTTP service (not built yet; see issue 4).
fn main() {
    eprintln!("mechafil-api is not implemented yet");
    std::process::exit(2);
}
