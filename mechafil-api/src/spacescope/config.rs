//! [`SpacescopeConfig`]: where Spacescope is, how to authenticate, and how patiently to talk to it.
//!
//! Read once from the environment ([`SpacescopeConfig::from_env`]) or built in code
//! ([`SpacescopeConfig::new`], as the tests do). The token is kept out of `Debug` output and logs.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// The public Spacescope API.
pub const DEFAULT_BASE_URL: &str = "https://api.spacescope.io";

/// Connection and authentication settings for the Spacescope client.
#[derive(Clone)]
pub struct SpacescopeConfig {
    /// Base URL without a trailing slash, e.g. `https://api.spacescope.io`.
    pub base_url: String,
    /// The full `authorization` header value (`Bearer <token>`). Never logged.
    authorization: String,
    /// Time allowed for one request, from connecting to the last byte of the body.
    pub request_timeout: Duration,
    /// Time allowed to establish the TCP/TLS connection.
    pub connect_timeout: Duration,
    /// Retries after the first attempt, for timeouts, connection failures, 429 and 5xx.
    pub max_retries: u32,
    /// Backoff before the first retry; doubles each retry (with jitter), up to `max_backoff`.
    pub retry_base: Duration,
    /// Upper bound of one backoff pause (also caps a server's `Retry-After`).
    pub max_backoff: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
}

/// Why the Spacescope settings in the environment are unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The token (from the variable or the file) is empty once quotes and `Bearer ` are removed.
    #[error("the Spacescope token from {origin} is empty")]
    EmptyToken {
        /// `SPACESCOPE_TOKEN` or the auth file's path.
        origin: String,
    },
    /// `SPACESCOPE_AUTH_FILE` cannot be read.
    #[error("cannot read SPACESCOPE_AUTH_FILE {path}: {source}")]
    AuthFileRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `SPACESCOPE_AUTH_FILE` is not JSON with a string `auth_key`.
    #[error("SPACESCOPE_AUTH_FILE {path} is not JSON of the form {{\"auth_key\": \"...\"}}: {detail}")]
    AuthFileFormat {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A numeric setting is not a number in its range.
    #[error("{var}={value:?} is not valid: {expected}")]
    BadNumber {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// `SPACESCOPE_BASE_URL` is not an http(s) URL.
    #[error("SPACESCOPE_BASE_URL={0:?} must start with http:// or https://")]
    BadBaseUrl(String),
}

impl std::fmt::Debug for SpacescopeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Hand-written so the token can never reach a log line or a panic message.
        f.debug_struct("SpacescopeConfig")
            .field("base_url", &self.base_url)
            .field("authorization", &"<redacted>")
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("max_retries", &self.max_retries)
            .field("retry_base", &self.retry_base)
            .field("max_backoff", &self.max_backoff)
            .field("concurrency", &self.concurrency)
            .finish()
    }
}

impl SpacescopeConfig {
    /// A configuration with the default timeouts and retries. `token` may be given with or without
    /// its `Bearer ` prefix and surrounding quotes.
    pub fn new(base_url: &str, token: &str) -> Result<SpacescopeConfig, ConfigError> {
        let base_url = normalize_base_url(base_url)?;
        let authorization = authorization_header(token, "the given token")?;
        Ok(SpacescopeConfig {
            base_url,
            authorization,
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            max_retries: 4,
            retry_base: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            concurrency: 4,
        })
    }

    /// Reads the configuration from the environment; `None` when no token is configured.
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `SPACESCOPE_TOKEN` | API token (quotes and `Bearer ` optional) | — |
    /// | `SPACESCOPE_AUTH_FILE` | JSON file `{"auth_key": "..."}`, used when `SPACESCOPE_TOKEN` is unset | — |
    /// | `SPACESCOPE_BASE_URL` | API base URL | `https://api.spacescope.io` |
    /// | `SPACESCOPE_TIMEOUT_MS` | per-request total timeout | 60000 |
    /// | `SPACESCOPE_CONNECT_TIMEOUT_MS` | connect timeout | 10000 |
    /// | `SPACESCOPE_MAX_RETRIES` | retries after the first attempt | 4 |
    /// | `SPACESCOPE_RETRY_BASE_MS` | first backoff (doubles, with jitter) | 500 |
    /// | `SPACESCOPE_RETRY_MAX_MS` | longest backoff | 30000 |
    /// | `SPACESCOPE_CONCURRENCY` | requests in flight | 4 |
    pub fn from_env() -> Result<Option<SpacescopeConfig>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`Self::from_env`] over any variable source (tests pass a map instead of mutating the
    /// process environment).
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<SpacescopeConfig>, ConfigError> {
        let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let authorization = if let Some(token) = non_empty("SPACESCOPE_TOKEN") {
            authorization_header(&token, "SPACESCOPE_TOKEN")?
        } else if let Some(path) = non_empty("SPACESCOPE_AUTH_FILE") {
            read_auth_file(Path::new(path.trim()))?
        } else {
            return Ok(None);
        };
        let base_url = non_empty("SPACESCOPE_BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let mut config = SpacescopeConfig::new(&base_url, "placeholder")?;
        config.authorization = authorization;
        let millis = |var: &'static str, default: Duration| -> Result<Duration, ConfigError> {
            Ok(match non_empty(var) {
                Some(v) => Duration::from_millis(parse_number(var, &v, 1, u64::MAX)?),
                None => default,
            })
        };
        config.request_timeout = millis("SPACESCOPE_TIMEOUT_MS", config.request_timeout)?;
        config.connect_timeout = millis("SPACESCOPE_CONNECT_TIMEOUT_MS", config.connect_timeout)?;
        config.retry_base = millis("SPACESCOPE_RETRY_BASE_MS", config.retry_base)?;
        config.max_backoff = millis("SPACESCOPE_RETRY_MAX_MS", config.max_backoff)?;
        if let Some(v) = non_empty("SPACESCOPE_MAX_RETRIES") {
            config.max_retries = parse_number("SPACESCOPE_MAX_RETRIES", &v, 0, 20)? as u32;
        }
        if let Some(v) = non_empty("SPACESCOPE_CONCURRENCY") {
            config.concurrency = parse_number("SPACESCOPE_CONCURRENCY", &v, 1, 64)? as usize;
        }
        Ok(Some(config))
    }

    /// The `authorization` header value (`Bearer <token>`). Do not log it.
    pub fn authorization(&self) -> &str {
        &self.authorization
    }
}

fn normalize_base_url(url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(url.to_string())
    } else {
        Err(ConfigError::BadBaseUrl(url.to_string()))
    }
}

/// `Bearer <token>` from a token as people paste it: surrounding whitespace and quotes are
/// dropped, and the `Bearer ` prefix is added when missing.
fn authorization_header(raw: &str, origin: &str) -> Result<String, ConfigError> {
    let mut token = raw.trim();
    // Quotes can be nested ('"abc"') when a value went through a shell and a .env file.
    while token.len() >= 2
        && ((token.starts_with('"') && token.ends_with('"'))
            || (token.starts_with('\'') && token.ends_with('\'')))
    {
        token = token[1..token.len() - 1].trim();
    }
    // "Bearer" alone (its token lost) or followed by whitespace is the scheme, not the token.
    if token.len() >= 6
        && token[..6].eq_ignore_ascii_case("bearer")
        && token[6..].chars().next().is_none_or(char::is_whitespace)
    {
        token = token[6..].trim();
    }
    if token.is_empty() {
        return Err(ConfigError::EmptyToken { origin: origin.to_string() });
    }
    Ok(format!("Bearer {token}"))
}

fn read_auth_file(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ConfigError::AuthFileRead { path: path.to_path_buf(), source })?;
    let format_error = |detail: String| ConfigError::AuthFileFormat { path: path.to_path_buf(), detail };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| format_error(e.to_string()))?;
    let key = value
        .get("auth_key")
        .and_then(|k| k.as_str())
        .ok_or_else(|| format_error("no string field auth_key".to_string()))?;
    authorization_header(key, &path.display().to_string())
}

fn parse_number(var: &'static str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    let expected = "a whole number in range";
    let n: u64 = value.trim().parse().map_err(|_| ConfigError::BadNumber {
        var,
        value: value.to_string(),
        expected,
    })?;
    if n < min || n > max {
        return Err(ConfigError::BadNumber { var, value: value.to_string(), expected });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn from_map(vars: &[(&str, &str)]) -> Result<Option<SpacescopeConfig>, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        SpacescopeConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn token_forms_all_give_one_header() {
        for raw in ["abc", "Bearer abc", "\"abc\"", "'Bearer abc'", "  \"bearer abc\" \n", "'\"abc\"'"] {
            assert_eq!(authorization_header(raw, "t").unwrap(), "Bearer abc", "{raw:?}");
        }
        assert!(matches!(authorization_header("\"Bearer \"", "t"), Err(ConfigError::EmptyToken { .. })));
    }

    #[test]
    fn no_token_means_no_config() {
        assert!(from_map(&[]).unwrap().is_none());
        assert!(from_map(&[("SPACESCOPE_TOKEN", "  ")]).unwrap().is_none());
    }

    #[test]
    fn auth_file_is_read_when_no_token_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        std::fs::write(&path, r#"{"auth_key": "\"Bearer xyz\""}"#).unwrap();
        let config = from_map(&[("SPACESCOPE_AUTH_FILE", path.to_str().unwrap())]).unwrap().unwrap();
        assert_eq!(config.authorization(), "Bearer xyz");
        std::fs::write(&path, r#"{"key": "x"}"#).unwrap();
        let err = from_map(&[("SPACESCOPE_AUTH_FILE", path.to_str().unwrap())]).unwrap_err();
        assert!(err.to_string().contains("auth_key"), "{err}");
    }

    #[test]
    fn settings_and_debug_never_show_the_token() {
        let config = from_map(&[
            ("SPACESCOPE_TOKEN", "sekrit"),
            ("SPACESCOPE_BASE_URL", "http://127.0.0.1:9/"),
            ("SPACESCOPE_TIMEOUT_MS", "250"),
            ("SPACESCOPE_CONCURRENCY", "2"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(config.base_url, "http://127.0.0.1:9");
        assert_eq!(config.request_timeout, Duration::from_millis(250));
        assert_eq!(config.concurrency, 2);
        assert!(!format!("{config:?}").contains("sekrit"));
        let err = from_map(&[("SPACESCOPE_TOKEN", "x"), ("SPACESCOPE_CONCURRENCY", "0")]).unwrap_err();
        assert!(err.to_string().contains("SPACESCOPE_CONCURRENCY"), "{err}");
    }
}
