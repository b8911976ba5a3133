//! mcp-server: the MCP server for Claude (not built yet; see issue 5).
fn main() {
    eprintln!("mcp-server is not implemented yet");
    std::process::exit(2);
}
