//! docs/DEPLOY.md against the real `mcp-server --help`: every flag is mentioned, and every
//! environment variable clap lists is in the "Environment variables" section. (The variables
//! read elsewhere in the source, and the fly.toml files, are checked by
//! `mechafil-api/tests/deploy_configs.rs`.)

use std::process::Command;

fn deploy_md() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/DEPLOY.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// Whether `doc` mentions `word` as a whole token (not as a prefix of a longer one).
fn mentions(doc: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    doc.match_indices(word).any(|(i, _)| {
        !doc[i + word.len()..].chars().next().is_some_and(part)
            && !doc[..i].chars().next_back().is_some_and(part)
    })
}

#[test]
fn every_flag_and_variable_of_help_is_documented() {
    let out =
        Command::new(env!("CARGO_BIN_EXE_mcp-server")).arg("--help").output().expect("mcp-server --help");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    let doc = deploy_md();
    let start = doc.find("\n## Environment variables").expect("an Environment variables section");
    let env_section = &doc[start..][..doc[start + 1..].find("\n## ").map_or(doc.len() - start, |i| i + 1)];

    let mut flags = Vec::new();
    let mut vars = Vec::new();
    for line in help.lines() {
        let line = line.trim_start();
        // `-p, --port <PORT>` or `--port <PORT>`
        let line = match line.as_bytes() {
            [b'-', short, b',', b' ', ..] if *short != b'-' => &line[4..],
            _ => line,
        };
        if let Some(rest) = line.strip_prefix("--") {
            let flag = rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).next().unwrap();
            if !["help", "version"].contains(&flag) {
                flags.push(format!("--{flag}"));
            }
        }
    }
    // `[env: NAME=]`, or `[env: NAME]` for a variable whose value clap hides.
    for piece in help.split("[env: ").skip(1) {
        vars.push(piece.split(['=', ']']).next().unwrap().to_string());
    }
    assert!(flags.len() >= 9 && vars.len() >= 9, "unexpected help text: {help}");

    let missing: Vec<String> = flags
        .iter()
        .filter(|f| !mentions(&doc, f))
        .cloned()
        .chain(
            vars.iter().filter(|v| !env_section.contains(&format!("`{v}`"))).map(|v| format!("variable {v}")),
        )
        .collect();
    assert!(missing.is_empty(), "docs/DEPLOY.md does not document: {}", missing.join(", "));
}
