//! The deployment configuration we ship, checked without Docker or a Fly account
//! (docs/DEPLOY.md, issue 6):
//!
//! - `fly/api/fly.toml` and `fly/mcp/fly.toml`: scale to zero (auto stop/start, no machine kept
//!   running), request-based concurrency limits, a kill signal our binaries handle and a kill
//!   timeout longer than their shutdown grace, the API's volume at `/data` = its data
//!   directory, internal ports = `PORT`, HTTP checks on `/health`, `[env]` free of secrets and
//!   of names the binaries do not read, and the two apps pointing at each other.
//! - The Dockerfiles build with `--locked` and run as an unprivileged user.
//! - Every environment variable either binary reads, found by scanning the source (not a list
//!   kept by hand), is documented in the "Environment variables" section of docs/DEPLOY.md.
//! - Every flag and subcommand of `mechafil-api --help` appears in docs/DEPLOY.md (the
//!   `mcp-server` flags are checked by `mcp-server/tests/deploy_docs.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use toml::{Table, Value};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

fn read(rel: &str) -> String {
    let path = repo().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn parse_toml(rel: &str) -> Table {
    read(rel).parse::<Table>().unwrap_or_else(|e| panic!("{rel} is not valid TOML: {e}"))
}

fn table<'a>(t: &'a Table, key: &str, file: &str) -> &'a Table {
    t.get(key).and_then(Value::as_table).unwrap_or_else(|| panic!("{file}: no [{key}] table"))
}

fn string<'a>(t: &'a Table, key: &str, file: &str) -> &'a str {
    t.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("{file}: `{key}` must be a string"))
}

fn integer(t: &Table, key: &str, file: &str) -> i64 {
    t.get(key).and_then(Value::as_integer).unwrap_or_else(|| panic!("{file}: `{key}` must be an integer"))
}

fn env_of<'a>(t: &'a Table, file: &str) -> BTreeMap<&'a str, &'a str> {
    table(t, "env", file)
        .iter()
        .map(|(k, v)| {
            (k.as_str(), v.as_str().unwrap_or_else(|| panic!("{file}: [env] {k} must be a string")))
        })
        .collect()
}

/// A deployment of one binary: its fly.toml, and what its source says about it.
struct App {
    file: &'static str,
    /// The variable holding the shutdown grace in seconds, and the binary's default for it.
    grace_var: &'static str,
    grace_default: i64,
    /// The source directories compiled into the binary.
    sources: &'static [&'static str],
}

const API: App = App {
    file: "fly/api/fly.toml",
    grace_var: "SHUTDOWN_GRACE_SECS",
    grace_default: 10,
    sources: &["mechafil-api/src", "mechafil-core/src"],
};
const MCP: App = App {
    file: "fly/mcp/fly.toml",
    grace_var: "MCP_SHUTDOWN_GRACE_SECS",
    grace_default: 10,
    sources: &["mcp-server/src", "mechafil-core/src"],
};

/// The checks both fly.toml files must pass; returns the parsed file.
fn check_common(app: &App) -> Table {
    let file = app.file;
    let t = parse_toml(file);
    assert!(!string(&t, "app", file).is_empty(), "{file}: app name");
    assert!(!string(&t, "primary_region", file).is_empty(), "{file}: primary_region");

    // Built from the repository root with the Dockerfile beside this file (flyctl resolves
    // [build] dockerfile relative to the config file).
    let dockerfile = string(table(&t, "build", file), "dockerfile", file);
    let beside = Path::new(file).parent().unwrap().join(dockerfile);
    assert!(
        repo().join(&beside).is_file(),
        "{file}: [build] dockerfile {dockerfile} is not {}",
        beside.display()
    );

    let env = env_of(&t, file);
    let service = table(&t, "http_service", file);

    // Scale to zero: the proxy stops idle machines and starts them on a request.
    let stop = string(service, "auto_stop_machines", file);
    assert!(["stop", "suspend"].contains(&stop), "{file}: auto_stop_machines = {stop:?}");
    assert_eq!(service.get("auto_start_machines").and_then(Value::as_bool), Some(true), "{file}: auto_start");
    assert_eq!(integer(service, "min_machines_running", file), 0, "{file}: min_machines_running");
    assert_eq!(service.get("force_https").and_then(Value::as_bool), Some(true), "{file}: force_https");

    // The internal port is the one the binary listens on.
    let port: i64 = env.get("PORT").unwrap_or_else(|| panic!("{file}: [env] PORT")).parse().unwrap();
    assert_eq!(integer(service, "internal_port", file), port, "{file}: internal_port must equal PORT");

    // Request-based concurrency with both limits.
    let concurrency = table(service, "concurrency", file);
    assert_eq!(string(concurrency, "type", file), "requests", "{file}: concurrency type");
    let soft = integer(concurrency, "soft_limit", file);
    let hard = integer(concurrency, "hard_limit", file);
    assert!(0 < soft && soft <= hard, "{file}: need 0 < soft_limit ({soft}) <= hard_limit ({hard})");

    // HTTP checks on /health.
    let checks = service.get("checks").and_then(Value::as_array).unwrap_or_else(|| {
        panic!("{file}: no [[http_service.checks]]");
    });
    assert!(
        checks.iter().filter_map(Value::as_table).any(|c| {
            c.get("path").and_then(Value::as_str) == Some("/health")
                && c.get("method").and_then(Value::as_str).is_none_or(|m| m.eq_ignore_ascii_case("get"))
        }),
        "{file}: an http check must GET /health"
    );

    // The kill signal is one our binaries turn into a graceful shutdown, and Fly waits longer
    // than the shutdown grace before it kills (3 s margin for closing the store and exiting).
    let signal = string(&t, "kill_signal", file);
    assert!(["SIGINT", "SIGTERM"].contains(&signal), "{file}: kill_signal {signal} is not handled");
    let grace = env.get(app.grace_var).map_or(app.grace_default, |v| v.parse().unwrap());
    let kill_timeout = integer(&t, "kill_timeout", file);
    assert!(
        kill_timeout >= grace + 3 && kill_timeout <= 300,
        "{file}: kill_timeout {kill_timeout} must be >= {} + 3 (and Fly allows at most 300)",
        app.grace_var
    );

    // A VM size, so scaling from zero and `fly deploy` agree on it.
    let vm = t.get("vm").and_then(Value::as_array).and_then(|v| v.first()).and_then(Value::as_table);
    let vm = vm.unwrap_or_else(|| panic!("{file}: no [[vm]]"));
    assert!(vm.contains_key("memory"), "{file}: [[vm]] memory");

    // [env] holds no secrets (they go to `fly secrets set`) and only names the binary reads.
    let read = env_vars_read(app.sources);
    for (name, value) in &env {
        assert!(!looks_secret_name(name), "{file}: [env] {name} looks like a secret: use `fly secrets set`");
        assert!(!looks_like_a_token(value), "{file}: [env] {name} has a value that looks like a credential");
        assert!(read.contains_key(*name), "{file}: [env] {name} is not read by the binary (typo?)");
    }
    t
}

fn looks_secret_name(name: &str) -> bool {
    ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "AUTH", "CREDENTIAL", "PRIVATE", "API_KEY"]
        .iter()
        .any(|word| name.to_ascii_uppercase().contains(word))
}

/// Long runs of token alphabet without the separators of URLs, paths, lists or durations.
fn looks_like_a_token(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.len() >= 24 && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_+=".contains(c))
        || lower.starts_with("bearer ")
        || lower.starts_with("flyv1 ")
}

#[test]
fn api_fly_toml() {
    let t = check_common(&API);
    let file = API.file;
    let env = env_of(&t, file);
    let service = table(&t, "http_service", file);
    // The refresh-on-wake check runs when the process starts: the API must boot, not resume.
    assert_eq!(
        string(service, "auto_stop_machines", file),
        "stop",
        "{file}: refresh-on-wake needs a fresh boot"
    );

    // The redb store on the volume: [mounts] at /data and the data directory there.
    let mounts = match t.get("mounts") {
        Some(Value::Table(m)) => vec![m],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_table).collect(),
        _ => panic!("{file}: no [mounts]"),
    };
    assert_eq!(mounts.len(), 1, "{file}: one volume");
    assert_eq!(string(mounts[0], "destination", file), "/data", "{file}: [mounts] destination");
    assert!(!string(mounts[0], "source", file).is_empty(), "{file}: [mounts] source");
    assert_eq!(env.get("MECHAFIL_DATA_DIR"), Some(&"/data"), "{file}: MECHAFIL_DATA_DIR must be the volume");
    assert_eq!(env.get("HOST"), Some(&"0.0.0.0"), "{file}: listen on all interfaces for the proxy");

    // Two 10,000-member ensembles peak at ~136 MiB and maximal bodies at ~84 MB (measured):
    // together too close to a 256 MB machine's limit.
    let vm = t["vm"].as_array().and_then(|v| v.first()).and_then(Value::as_table).unwrap();
    let memory_mb = match &vm["memory"] {
        Value::Integer(mb) => *mb,
        Value::String(text) => {
            let text = text.to_ascii_lowercase();
            let (number, factor) = match text.strip_suffix("gb") {
                Some(gb) => (gb, 1024),
                None => (text.strip_suffix("mb").unwrap_or(&text), 1),
            };
            number.trim().parse::<i64>().unwrap_or_else(|_| panic!("{file}: [[vm]] memory {text:?}")) * factor
        }
        other => panic!("{file}: [[vm]] memory {other:?}"),
    };
    assert!(
        memory_mb >= 512,
        "{file}: [[vm]] memory {memory_mb} MB; the largest analyses and bodies need ~220 MB"
    );
}

#[test]
fn mcp_fly_toml() {
    let t = check_common(&MCP);
    let file = MCP.file;
    let env = env_of(&t, file);
    assert_eq!(env.get("MCP_TRANSPORT"), Some(&"http"), "{file}: Claude.ai needs streamable HTTP");
    assert!(t.get("mounts").is_none(), "{file}: the MCP server keeps no state");
    // Fly limits what can be suspended; the suspended app stays small and without swap.
    assert!(t.get("swap_size_mb").is_none(), "{file}: keep the suspended app without swap (docs/DEPLOY.md)");

    // rmcp refuses Host headers that are not loopback or listed: the app's own host must be.
    let app = string(&t, "app", file);
    let hosts: Vec<&str> =
        env.get("MCP_ALLOWED_HOSTS").expect("MCP_ALLOWED_HOSTS").split(',').map(str::trim).collect();
    assert!(
        hosts.contains(&format!("{app}.fly.dev").as_str()),
        "{file}: MCP_ALLOWED_HOSTS must list {app}.fly.dev"
    );

    // The MCP server calls the API app through its public URL (the proxy wakes it up).
    let api_app = parse_toml(API.file)["app"].as_str().unwrap().to_string();
    assert_eq!(
        env.get("MECHAFIL_SERVER_URL").copied(),
        Some(format!("https://{api_app}.fly.dev").as_str()),
        "{file}: MECHAFIL_SERVER_URL must be the API app of {}",
        API.file
    );
}

#[test]
fn dockerfiles_build_locked_and_run_unprivileged() {
    for (file, package) in [("fly/api/Dockerfile", "mechafil-api"), ("fly/mcp/Dockerfile", "mcp-server")] {
        let text = read(file);
        assert!(
            text.contains(&format!("cargo build --release --locked -p {package}")),
            "{file}: must build {package} with --release --locked"
        );
        let runtime = text.rsplit_once("\nFROM ").map(|(_, last)| last).expect("a multi-stage build");
        assert!(runtime.starts_with("debian:"), "{file}: the runtime stage is debian-slim");
        assert!(runtime.contains("useradd --system --uid 10001"), "{file}: an unprivileged user");
        assert!(!runtime.contains("cargo "), "{file}: no toolchain in the runtime stage");
    }
    // The MCP image switches user; the API image starts as root only to chown the volume and
    // then drops privileges for good (fly/api/entrypoint.sh).
    assert!(read("fly/mcp/Dockerfile").contains("\nUSER 10001:10001\n"));
    let entrypoint = read("fly/api/entrypoint.sh");
    assert!(entrypoint.contains("exec setpriv --reuid=mechafil --regid=mechafil --init-groups -- \"$@\""));
    assert!(entrypoint.contains("chown -R mechafil:mechafil \"$data_dir\""));
    // The build context is the repository root; keep build output and local data out of it.
    let ignore: BTreeSet<String> = read(".dockerignore").lines().map(|l| l.trim().to_string()).collect();
    for needed in ["target", "data", ".git"] {
        assert!(ignore.contains(needed), ".dockerignore must exclude {needed}");
    }
}

// ---------------------------------------------------------------------------------------------
// Environment variables read by the binaries, found in their source.

/// Variables found in sources that are not compiled into the shipped binaries, with the reason.
/// (`test_support.rs` is behind mechafil-core's `test-support` feature, which only the tests
/// enable; checked below.)
const NOT_IN_BINARIES: &[&str] = &["mechafil-core/src/test_support.rs"];

/// Every environment variable read by the code under `dirs`, with the files that read it.
///
/// Found as: clap's `env = "NAME"`; `env::var("NAME")` / `env::var_os("NAME")`, also through a
/// `const X: &str = "NAME"` of the same file; `EnvFilter::from_default_env`/`try_from_default_env`
/// (`RUST_LOG`). A file that reads variables through a lookup function (`env::var(name)` with a
/// variable name) gets every string literal spelled like a variable name counted. Any other way
/// of reading the environment fails the scan, so a new one cannot slip by unnoticed.
fn env_vars_read(dirs: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let mut found: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for dir in dirs {
        for path in rust_files(&repo().join(dir)) {
            let rel = path.strip_prefix(repo()).unwrap().to_string_lossy().replace('\\', "/");
            if NOT_IN_BINARIES.contains(&rel.as_str()) {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for name in scan_file(&text, &rel) {
                found.entry(name).or_default().insert(rel.clone());
            }
        }
    }
    found
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn is_var_name(s: &str) -> bool {
    s.len() >= 2
        && s.starts_with(|c: char| c.is_ascii_uppercase())
        && s.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
}

/// `"NAME"` string literals spelled like variable names.
fn upper_literals(text: &str) -> Vec<String> {
    text.split('"').skip(1).step_by(2).filter(|s| is_var_name(s)).map(str::to_string).collect()
}

/// The string value of `const IDENT: &str = "VALUE";` in `text`.
fn const_value(text: &str, ident: &str) -> Option<String> {
    let start = text.find(&format!("const {ident}: &str = \""))?;
    let rest = &text[start..];
    let value = rest.split('"').nth(1)?;
    Some(value.to_string())
}

fn scan_file(text: &str, file: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for forbidden in ["env::vars(", "env::vars_os(", "use std::env::var", "use std::env::{"] {
        assert!(
            !text.contains(forbidden),
            "{file}: reads the environment through `{forbidden}`, which this scan cannot follow; \
             use env::var(\"NAME\") or a clap `env = \"NAME\"` (or extend the scan)"
        );
    }
    // clap attributes (anything else spelled `env = "..."` is not a variable name).
    for piece in text.split("env = \"").skip(1) {
        let name = piece.split('"').next().unwrap();
        if is_var_name(name) {
            names.insert(name.to_string());
        }
    }
    // tracing-subscriber's filter from RUST_LOG.
    if text.contains("from_default_env(") {
        names.insert("RUST_LOG".to_string());
    }
    // env::var / env::var_os calls.
    let mut lookup_style = false;
    for call in ["env::var(", "env::var_os("] {
        for piece in text.split(call).skip(1) {
            let arg = piece.split([')', ',']).next().unwrap().trim();
            if let Some(literal) = arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
                assert!(is_var_name(literal), "{file}: {call}{arg}) is not a variable name");
                names.insert(literal.to_string());
            } else if is_var_name(arg) {
                let value = const_value(text, arg).unwrap_or_else(|| {
                    panic!("{file}: {call}{arg}): no `const {arg}: &str = \"...\"` in the same file")
                });
                names.insert(value);
            } else if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                lookup_style = true;
            } else {
                panic!("{file}: cannot tell which variable {call}{arg}) reads");
            }
        }
    }
    if lookup_style {
        names.extend(upper_literals(text));
    }
    names
}

/// The "Environment variables" section of docs/DEPLOY.md.
fn deploy_env_section() -> String {
    let doc = read("docs/DEPLOY.md");
    let start =
        doc.find("\n## Environment variables").expect("docs/DEPLOY.md: a `## Environment variables` section");
    let rest = &doc[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..end].to_string()
}

#[test]
fn env_scan_finds_known_reads() {
    // The scan itself: each way of reading a variable that the code uses today.
    let api = env_vars_read(API.sources);
    for name in ["MECHAFIL_DATA_DIR", "PORT", "HOST", "ADMIN_TOKEN", "SPACESCOPE_RETRY_MAX_MS", "RUST_LOG"] {
        assert!(api.contains_key(name), "mechafil-api: {name} not found by the scan: {api:?}");
    }
    assert!(api.contains_key("MECHAFIL_TEST_PAUSE_BEFORE_COMMIT"), "the const-named read in store.rs");
    let mcp = env_vars_read(MCP.sources);
    for name in ["MCP_TRANSPORT", "MECHAFIL_SERVER_URL", "MCP_AUTH_TOKEN", "PORT", "RUST_LOG"] {
        assert!(mcp.contains_key(name), "mcp-server: {name} not found by the scan: {mcp:?}");
    }
    let lookup = "fn f(v: &str) -> Option<String> { std::env::var(v).ok() } fn g() { f(\"A_B\"); }";
    assert!(scan_file(lookup, "x.rs").contains("A_B"));
    let constant = "const NAME_VAR: &str = \"C_D\"; fn f() { std::env::var_os(NAME_VAR); }";
    assert!(scan_file(constant, "x.rs").contains("C_D"));
    assert!(
        std::panic::catch_unwind(|| scan_file("fn f() { std::env::var(format!(\"X\")); }", "x.rs")).is_err()
    );
    assert!(
        std::panic::catch_unwind(|| scan_file("fn f() { for _ in std::env::vars() {} }", "x.rs")).is_err()
    );
    // The excluded file is really outside the binaries: feature-gated, enabled only by tests.
    let core_lib = read("mechafil-core/src/lib.rs");
    assert!(core_lib.contains("#[cfg(feature = \"test-support\")]\npub mod test_support;"));
    for manifest in ["mechafil-api/Cargo.toml", "mcp-server/Cargo.toml"] {
        let cargo = parse_toml(manifest);
        let core = table(table(&cargo, "dependencies", manifest), "mechafil-core", manifest);
        assert!(
            !core.contains_key("features"),
            "{manifest}: test-support must stay a dev-dependency feature"
        );
    }
}

#[test]
fn every_variable_the_binaries_read_is_documented() {
    let section = deploy_env_section();
    let mut missing = Vec::new();
    for (binary, app) in [("mechafil-api", &API), ("mcp-server", &MCP)] {
        for (name, files) in env_vars_read(app.sources) {
            if !section.contains(&format!("`{name}`")) {
                missing
                    .push(format!("{name} ({binary}: {})", files.into_iter().collect::<Vec<_>>().join(", ")));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/DEPLOY.md, section \"Environment variables\", does not document: {}",
        missing.join("; ")
    );
    // Test hooks are documented as such, never as settings.
    for hook in
        ["MECHAFIL_TEST_PAUSE_BEFORE_COMMIT", "MECHAFIL_TEST_CRASH_CHECK_STORE", "MCP_PLOT_SAMPLE_DIR"]
    {
        let line = section.lines().find(|l| l.contains(&format!("`{hook}`"))).unwrap();
        assert!(line.to_lowercase().contains("test"), "DEPLOY.md must mark {hook} as test-only: {line}");
    }
}

// ---------------------------------------------------------------------------------------------
// Flags and subcommands.

const BIN: &str = env!("CARGO_BIN_EXE_mechafil-api");

fn help(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--help").output().expect("running mechafil-api --help");
    assert!(out.status.success(), "mechafil-api {args:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// Long flags (`--name`) listed in a clap help text, without --help and --version.
fn long_flags(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            // `-p, --port <PORT>` or `--port <PORT>`
            let l = match l.as_bytes() {
                [b'-', short, b',', b' ', ..] if *short != b'-' => &l[4..],
                _ => l,
            };
            l.strip_prefix("--")
                .map(|r| r.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).next().unwrap())
        })
        .filter(|f| !["help", "version"].contains(f))
        .map(|f| format!("--{f}"))
        .collect()
}

/// Subcommands listed under `Commands:` in a clap help text, without `help`.
fn subcommands(help: &str) -> Vec<String> {
    let Some((_, rest)) = help.split_once("Commands:\n") else { return Vec::new() };
    rest.lines()
        .take_while(|l| l.starts_with("  "))
        // A command starts at column 2; deeper lines continue a wrapped description.
        .filter(|l| !l[2..].starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Whether `doc` mentions `word` as a whole token (not as a prefix of a longer flag).
fn mentions(doc: &str, word: &str) -> bool {
    doc.match_indices(word).any(|(i, _)| {
        let after = doc[i + word.len()..].chars().next();
        let before = doc[..i].chars().next_back();
        !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn every_flag_and_subcommand_is_documented() {
    let doc = read("docs/DEPLOY.md");
    let top = help(&[]);
    let commands = subcommands(&top);
    for expected in
        ["serve", "simulate", "analyze", "update-cache", "import", "export", "snapshots", "activate"]
    {
        assert!(
            commands.iter().any(|c| c == expected),
            "`mechafil-api --help` lists no {expected}: {commands:?}"
        );
    }
    let mut missing = Vec::new();
    for flag in long_flags(&top) {
        if !mentions(&doc, &flag) {
            missing.push(format!("mechafil-api {flag}"));
        }
    }
    for command in &commands {
        if !mentions(&doc, &format!("mechafil-api {command}")) {
            missing.push(format!("mechafil-api {command} (as `mechafil-api {command}`)"));
        }
        for flag in long_flags(&help(&[command])) {
            if !mentions(&doc, &flag) {
                missing.push(format!("mechafil-api {command} {flag}"));
            }
        }
    }
    assert!(missing.is_empty(), "docs/DEPLOY.md does not mention: {}", missing.join(", "));
}
