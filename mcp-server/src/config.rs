//! Configuration: command-line flags, each with an environment variable ([`Cli`]), parsed once
//! into a [`Config`] that cannot be invalid.
//!
//! | variable | flag | default | meaning |
//! |---|---|---|---|
//! | `MCP_TRANSPORT` | `--transport` | `stdio` | `stdio` (Claude Desktop) or `http` (streamable HTTP at `/mcp`) |
//! | `PORT` | `--port` | `8080` | HTTP port |
//! | `MCP_HOST` | `--host` | `0.0.0.0` | HTTP bind address |
//! | `MECHAFIL_SERVER_URL` | `--api-url` | `http://localhost:8000` | the MechaFil API |
//! | `MECHAFIL_API_BUDGET_SECS` | `--api-budget-secs` | `25` | total time for one API call, retries included |
//! | `MCP_ALLOWED_HOSTS` | `--allowed-hosts` | (loopback only) | extra `Host` names accepted, comma-separated; `*` = any |
//! | `MCP_ALLOWED_ORIGINS` | `--allowed-origins` | `*` | browser origins for CORS, comma-separated; `*` = any |
//! | `MCP_AUTH_TOKEN` | `--auth-token` | (none) | if set, `/mcp` requires `Authorization: Bearer <token>` |
//! | `MCP_SHUTDOWN_GRACE_SECS` | `--shutdown-grace-secs` | `10` | how long open requests may finish after SIGTERM |
//! | `RUST_LOG` | | `info` (`warn` on stdio) | log filter; logs go to stderr |

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::api_client::{ApiClient, InvalidApiUrl, RetryPolicy};
use crate::http::HttpLimits;

/// Which transport the binary speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// JSON-RPC over stdin/stdout, for Claude Desktop and other local clients.
    Stdio,
    /// Streamable HTTP at `/mcp`, for Claude.ai connectors and remote clients.
    Http,
}

/// Command-line flags and environment variables. `Debug` is written by hand so the auth token
/// never reaches a log line or a panic message.
#[derive(Clone, Parser)]
#[command(
    name = "mcp-server",
    version,
    about = "MechaFil MCP server: lets Claude run Filecoin economics forecasts through the MechaFil API.",
    after_help = "Examples:\n  mcp-server                                  # stdio, for Claude Desktop\n  \
                  MCP_TRANSPORT=http PORT=8080 mcp-server     # streamable HTTP at http://0.0.0.0:8080/mcp"
)]
pub struct Cli {
    /// Transport: stdio (Claude Desktop) or http (streamable HTTP at /mcp).
    #[arg(long, env = "MCP_TRANSPORT", value_enum, default_value_t = Transport::Stdio, ignore_case = true)]
    pub transport: Transport,
    /// HTTP port.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// HTTP bind address.
    #[arg(long, env = "MCP_HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// Base URL of the MechaFil API.
    #[arg(long, env = "MECHAFIL_SERVER_URL", default_value = "http://localhost:8000")]
    pub api_url: String,
    /// Total seconds one API call may take, retries while the API wakes up included.
    #[arg(long, env = "MECHAFIL_API_BUDGET_SECS", default_value_t = 25.0)]
    pub api_budget_secs: f64,
    /// Public host names (or host:port) accepted in the Host header besides loopback, comma-separated; "*" accepts any.
    #[arg(long, env = "MCP_ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,
    /// Browser origins allowed by CORS, comma-separated; "*" allows any.
    #[arg(long, env = "MCP_ALLOWED_ORIGINS", value_delimiter = ',', default_value = "*")]
    pub allowed_origins: Vec<String>,
    /// Bearer token required on /mcp (private deployments); unset = public, unauthenticated.
    #[arg(long, env = "MCP_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Seconds open HTTP requests may run after SIGINT/SIGTERM before the process exits.
    #[arg(long, env = "MCP_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

/// Which `Host` headers the HTTP transport accepts (DNS-rebinding protection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPolicy {
    /// Any host: only for deployments behind a proxy that checks hosts itself.
    Any,
    /// Loopback names plus these.
    List(Vec<String>),
}

/// Which browser origins CORS admits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginPolicy {
    /// Every origin (`Access-Control-Allow-Origin: *`): the data is public.
    Any,
    /// Only these origins (scheme://host[:port]); other origins are also refused by rmcp.
    List(Vec<String>),
}

/// The HTTP transport's settings. `Debug` redacts the auth token.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// Where to listen.
    pub bind: SocketAddr,
    /// Accepted `Host` headers.
    pub allowed_hosts: HostPolicy,
    /// CORS origins.
    pub allowed_origins: OriginPolicy,
    /// Required bearer token on `/mcp`, if any.
    pub auth_token: Option<String>,
    /// How long open requests may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Timeouts and size limits of every request.
    pub limits: HttpLimits,
}

/// What `Debug` shows instead of a secret.
const REDACTED: &str = "<redacted>";

fn redacted(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| REDACTED)
}

impl fmt::Debug for Cli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cli")
            .field("transport", &self.transport)
            .field("port", &self.port)
            .field("host", &self.host)
            .field("api_url", &self.api_url)
            .field("api_budget_secs", &self.api_budget_secs)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .field("auth_token", &redacted(&self.auth_token))
            .field("shutdown_grace_secs", &self.shutdown_grace_secs)
            .finish()
    }
}

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConfig")
            .field("bind", &self.bind)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .field("auth_token", &redacted(&self.auth_token))
            .field("shutdown_grace", &self.shutdown_grace)
            .field("limits", &self.limits)
            .finish()
    }
}

/// Host names every HTTP server accepts: loopback, for local clients and health checks.
pub const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            bind: SocketAddr::from(([0, 0, 0, 0], 8080)),
            allowed_hosts: HostPolicy::List(Vec::new()),
            allowed_origins: OriginPolicy::Any,
            auth_token: None,
            shutdown_grace: Duration::from_secs(10),
            limits: HttpLimits::default(),
        }
    }
}

impl HttpConfig {
    /// The full `Host` allow-list for rmcp (empty = any).
    pub fn host_allow_list(&self) -> Vec<String> {
        match &self.allowed_hosts {
            HostPolicy::Any => Vec::new(),
            HostPolicy::List(extra) => {
                LOOPBACK_HOSTS.iter().map(|h| h.to_string()).chain(extra.iter().cloned()).collect()
            }
        }
    }
}

/// Everything the binary needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The transport to speak.
    pub transport: Transport,
    /// HTTP settings (unused on stdio).
    pub http: HttpConfig,
    /// The API client.
    pub api: ApiClient,
}

/// A flag or variable with a value that cannot work.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `MECHAFIL_SERVER_URL` is not an http(s) URL.
    #[error(transparent)]
    ApiUrl(#[from] InvalidApiUrl),
    /// `MECHAFIL_API_BUDGET_SECS` is not a positive number of seconds.
    #[error("MECHAFIL_API_BUDGET_SECS must be between 0.1 and 3600 seconds, got {0}")]
    Budget(f64),
    /// An allowed origin is not `scheme://host[:port]`.
    #[error("MCP_ALLOWED_ORIGINS entry {0:?} must look like https://example.org or http://localhost:6274")]
    Origin(String),
    /// `MCP_AUTH_TOKEN` is set but empty or not a valid header value.
    #[error("MCP_AUTH_TOKEN must be a non-empty token of visible ASCII characters")]
    AuthToken,
}

fn cleaned(items: &[String]) -> Vec<String> {
    items.iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

impl Cli {
    /// Validates the flags into a [`Config`].
    pub fn into_config(self) -> Result<Config, ConfigError> {
        if !(self.api_budget_secs.is_finite() && (0.1..=3600.0).contains(&self.api_budget_secs)) {
            return Err(ConfigError::Budget(self.api_budget_secs));
        }
        let defaults = RetryPolicy::default();
        let budget = Duration::from_secs_f64(self.api_budget_secs);
        let policy =
            RetryPolicy { budget, connect_timeout: defaults.connect_timeout.min(budget), ..defaults };
        let api = ApiClient::new(&self.api_url, policy)?;

        let hosts = cleaned(&self.allowed_hosts);
        let allowed_hosts =
            if hosts.iter().any(|h| h == "*") { HostPolicy::Any } else { HostPolicy::List(hosts) };
        let origins = cleaned(&self.allowed_origins);
        let allowed_origins = if origins.is_empty() || origins.iter().any(|o| o == "*") {
            OriginPolicy::Any
        } else {
            for origin in &origins {
                let valid = http::Uri::try_from(origin.as_str())
                    .is_ok_and(|uri| uri.scheme().is_some() && uri.host().is_some() && uri.path() == "/");
                if !valid || origin.ends_with('/') {
                    return Err(ConfigError::Origin(origin.clone()));
                }
            }
            OriginPolicy::List(origins)
        };
        let auth_token = match self.auth_token.map(|t| t.trim().to_string()) {
            None => None,
            Some(token) if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(ConfigError::AuthToken);
            }
            Some(token) => Some(token),
        };
        Ok(Config {
            transport: self.transport,
            http: HttpConfig {
                bind: SocketAddr::new(self.host, self.port),
                allowed_hosts,
                allowed_origins,
                auth_token,
                shutdown_grace: Duration::from_secs(self.shutdown_grace_secs),
                limits: HttpLimits::default(),
            },
            api,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        let argv = std::iter::once("mcp-server").chain(args.iter().copied());
        Cli::try_parse_from(argv).expect("flags parse").into_config()
    }

    #[test]
    fn defaults_are_stdio_and_the_local_api() {
        // Flags only: the test must not depend on the environment of the machine.
        let config = config(&["--api-url", "http://localhost:8000", "--allowed-origins", "*"]).unwrap();
        assert_eq!(config.http.host_allow_list(), ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(config.http.allowed_origins, OriginPolicy::Any);
        assert_eq!(config.api.policy().budget, Duration::from_secs(25));
        assert_eq!(config.api.base_url().as_str(), "http://localhost:8000/");
    }

    #[test]
    fn http_flags() {
        let config = config(&[
            "--transport",
            "HTTP",
            "--port",
            "9000",
            "--allowed-hosts",
            "mechafil-mcp.fly.dev, example.org:443",
            "--allowed-origins",
            "https://claude.ai,http://localhost:6274",
            "--auth-token",
            "s3cret",
            "--api-budget-secs",
            "1.5",
        ])
        .unwrap();
        assert_eq!(config.transport, Transport::Http);
        assert_eq!(config.http.bind.port(), 9000);
        assert_eq!(
            config.http.host_allow_list(),
            ["localhost", "127.0.0.1", "::1", "mechafil-mcp.fly.dev", "example.org:443"]
        );
        assert_eq!(
            config.http.allowed_origins,
            OriginPolicy::List(vec!["https://claude.ai".into(), "http://localhost:6274".into()])
        );
        assert_eq!(config.http.auth_token.as_deref(), Some("s3cret"));
        assert_eq!(config.api.policy().budget, Duration::from_millis(1500));
        assert_eq!(config.api.policy().connect_timeout, Duration::from_millis(1500));
        assert_eq!(
            self::config(&["--allowed-hosts", "*"]).unwrap().http.host_allow_list(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn debug_never_shows_the_auth_token() {
        let cli = Cli::try_parse_from(["mcp-server", "--auth-token", "s3cret-token"]).unwrap();
        let cli_debug = format!("{cli:?}");
        let config = cli.into_config().unwrap();
        for debug in [cli_debug, format!("{:?}", config.http), format!("{config:?}"), format!("{config:#?}")]
        {
            assert!(!debug.contains("s3cret-token"), "{debug}");
            assert!(debug.contains("<redacted>"), "{debug}");
        }
        assert!(format!("{:?}", HttpConfig::default()).contains("auth_token: None"));
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(matches!(config(&["--api-url", "localhost:8000"]), Err(ConfigError::ApiUrl(_))));
        assert!(matches!(config(&["--api-budget-secs", "0"]), Err(ConfigError::Budget(_))));
        assert!(matches!(config(&["--allowed-origins", "claude.ai"]), Err(ConfigError::Origin(_))));
        assert!(matches!(config(&["--allowed-origins", "https://claude.ai/"]), Err(ConfigError::Origin(_))));
        assert!(matches!(config(&["--auth-token", " "]), Err(ConfigError::AuthToken)));
        assert!(Cli::try_parse_from(["mcp-server", "--transport", "websocket"]).is_err());
    }
}
