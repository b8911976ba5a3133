//! [`ApiConfig`]: the service's settings, read once from the environment at start.

use std::time::Duration;

use chrono::NaiveTime;

/// Settings of the HTTP service.
#[derive(Clone)]
pub struct ApiConfig {
    /// `ADMIN_TOKEN`: bearer token of `/admin/update-cache`; `None` disables the endpoint (403).
    pub admin_token: Option<String>,
    /// `CORS_ORIGINS`: allowed browser origins; `None` = any (`*`, the reference's default).
    pub cors_origins: Option<Vec<String>>,
    /// `REFRESH_MAX_AGE`: refresh in the background after start when the active snapshot is
    /// older than this and a Spacescope token is configured. Default 24 h.
    pub refresh_max_age: Duration,
    /// `RELOAD_TRIGGER`: daily in-process refresh at this UTC time (`HH:MM`), for always-on
    /// deployments. Default: none.
    pub reload_trigger: Option<NaiveTime>,
    /// `SHUTDOWN_GRACE_SECS`: how long in-flight requests may finish after SIGINT/SIGTERM.
    pub shutdown_grace: Duration,
    /// `MECHAFIL_CPU_PERMITS`: how many CPU jobs (simulations, analysis chunks) run at once.
    /// Default: one per core but one (at least one), leaving a core to HTTP and `/health`.
    pub cpu_permits: Option<usize>,
    /// `MECHAFIL_UPDATE_DEADLINE_SECS`: how long one update from Spacescope may take before it
    /// fails (and releases the update lock). Default 300 s.
    pub update_deadline: Duration,
    /// `FLY_MACHINE_ID` (Fly sets it on every machine): which machine this is, shown by
    /// `/health` and the admin update's answer, so an operator of several replicas can tell
    /// which one answered. `None` elsewhere.
    pub machine: Option<String>,
}

impl std::fmt::Debug for ApiConfig {
    // By hand, so the admin token can never reach a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "<set>"))
            .field("cors_origins", &self.cors_origins)
            .field("refresh_max_age", &self.refresh_max_age)
            .field("reload_trigger", &self.reload_trigger)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("cpu_permits", &self.cpu_permits)
            .field("update_deadline", &self.update_deadline)
            .field("machine", &self.machine)
            .finish()
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            admin_token: None,
            cors_origins: None,
            refresh_max_age: Duration::from_secs(24 * 3600),
            reload_trigger: None,
            shutdown_grace: Duration::from_secs(10),
            cpu_permits: None,
            update_deadline: Duration::from_secs(300),
            machine: None,
        }
    }
}

/// A setting that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}={value:?}: {problem}")]
pub struct ConfigError {
    /// The environment variable.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong and what is expected.
    pub problem: String,
}

impl ApiConfig {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<ApiConfig, ConfigError> {
        Self::from_lookup(|var| std::env::var(var).ok())
    }

    /// Reads the settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<ApiConfig, ConfigError> {
        let mut config = ApiConfig::default();
        let get = |var: &str| lookup(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        config.admin_token = get("ADMIN_TOKEN");
        config.machine = get("FLY_MACHINE_ID").filter(|id| !id.trim().is_empty());
        if let Some(origins) = get("CORS_ORIGINS") {
            let list: Vec<String> =
                origins.split(',').map(|o| o.trim().to_string()).filter(|o| !o.is_empty()).collect();
            config.cors_origins = if list.iter().any(|o| o == "*") { None } else { Some(list) };
        }
        if let Some(value) = get("REFRESH_MAX_AGE") {
            config.refresh_max_age = parse_duration(&value).ok_or_else(|| ConfigError {
                var: "REFRESH_MAX_AGE",
                value: value.clone(),
                problem: "expected a duration like 24h, 90m, 3600s or 3600 (seconds)".into(),
            })?;
        }
        if let Some(value) = get("RELOAD_TRIGGER") {
            config.reload_trigger =
                Some(NaiveTime::parse_from_str(&value, "%H:%M").map_err(|_| ConfigError {
                    var: "RELOAD_TRIGGER",
                    value: value.clone(),
                    problem: "expected a UTC time HH:MM, e.g. 02:30".into(),
                })?);
        }
        if let Some(value) = get("SHUTDOWN_GRACE_SECS") {
            config.shutdown_grace = value.parse().map(Duration::from_secs).map_err(|_| ConfigError {
                var: "SHUTDOWN_GRACE_SECS",
                value: value.clone(),
                problem: "expected a whole number of seconds".into(),
            })?;
        }
        if let Some(value) = get("MECHAFIL_CPU_PERMITS") {
            config.cpu_permits =
                Some(value.parse().ok().filter(|n: &usize| (1..=256).contains(n)).ok_or_else(|| {
                    ConfigError {
                        var: "MECHAFIL_CPU_PERMITS",
                        value: value.clone(),
                        problem: "expected a whole number of concurrent CPU jobs, 1 to 256".into(),
                    }
                })?);
        }
        if let Some(value) = get("MECHAFIL_UPDATE_DEADLINE_SECS") {
            config.update_deadline =
                value.parse::<u64>().ok().filter(|secs| *secs > 0).map(Duration::from_secs).ok_or_else(
                    || ConfigError {
                        var: "MECHAFIL_UPDATE_DEADLINE_SECS",
                        value: value.clone(),
                        problem: "expected a whole number of seconds, at least 1".into(),
                    },
                )?;
        }
        Ok(config)
    }
}

/// `24h`, `90m`, `30s`, `2d` or a plain number of seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let (number, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&text[..i], &text[i..]),
        None => (text, "s"),
    };
    let n: u64 = number.trim().parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<ApiConfig, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ApiConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = config(&[]).unwrap();
        assert!(c.admin_token.is_none() && c.cors_origins.is_none() && c.reload_trigger.is_none());
        assert_eq!(c.refresh_max_age, Duration::from_secs(86_400));
        assert_eq!(c.update_deadline, Duration::from_secs(300));
    }

    #[test]
    fn parses_values_and_rejects_bad_ones() {
        let c = config(&[
            ("CORS_ORIGINS", "https://a.example, https://b.example"),
            ("REFRESH_MAX_AGE", "90m"),
            ("RELOAD_TRIGGER", "02:30"),
            ("ADMIN_TOKEN", "  s3cret "),
        ])
        .unwrap();
        assert_eq!(c.cors_origins.unwrap(), ["https://a.example", "https://b.example"]);
        assert_eq!(c.refresh_max_age, Duration::from_secs(5400));
        assert_eq!(c.reload_trigger, NaiveTime::from_hms_opt(2, 30, 0));
        assert_eq!(c.admin_token.as_deref(), Some("s3cret"));
        assert!(config(&[("RELOAD_TRIGGER", "25:00")]).is_err());
        assert!(config(&[("REFRESH_MAX_AGE", "soon")]).unwrap_err().to_string().contains("REFRESH_MAX_AGE"));
        assert_eq!(parse_duration("3600"), Some(Duration::from_secs(3600)));
        let c = config(&[("MECHAFIL_UPDATE_DEADLINE_SECS", "90")]).unwrap();
        assert_eq!(c.update_deadline, Duration::from_secs(90));
        for bad in ["0", "5m", "-1"] {
            assert!(config(&[("MECHAFIL_UPDATE_DEADLINE_SECS", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let c = config(&[("ADMIN_TOKEN", "top-secret")]).unwrap();
        assert!(!format!("{c:?}").contains("top-secret"));
    }
}
