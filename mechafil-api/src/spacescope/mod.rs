//! The Spacescope data pipeline: fetch the network's history and build a [`NetworkData`]
//! exactly as `shared/spec/DATA.md` describes.
//!
//! - [`config`]: [`SpacescopeConfig`] (base URL, token, timeouts, retries) from the environment.
//! - [`client`]: the HTTP client: retries with backoff and jitter, bounded concurrency, no
//!   repeated requests.
//! - [`wire`]: the JSON envelope and rows; exact number parsing; per-day collection and checks.
//! - [`dates`]: query chunks, the step-back candidates.
//! - [`pipeline`]: the queries and the derivation of the snapshot, recent series and supply.
//! - [`error`]: [`FetchError`], naming the endpoint and date range of every failure.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mechafil_api::spacescope::{FetchOptions, SpacescopeConfig, fetch_network_data};
//! let config = SpacescopeConfig::from_env()?.ok_or("set SPACESCOPE_TOKEN")?;
//! let data = fetch_network_data(&config, &FetchOptions::default()).await?;
//! println!("history through {}", data.snapshot.current_date);
//! # Ok(()) }
//! ```

use chrono::{NaiveDate, Utc};

use crate::network_data::NetworkData;

pub mod client;
pub mod config;
pub mod dates;
pub mod error;
pub mod pipeline;
pub mod wire;

pub use config::{ConfigError, SpacescopeConfig};
pub use error::{DataProblem, Endpoint, FetchError, RequestTarget};
pub use pipeline::fetch_network_data_at;

/// The reference service's default first history day.
pub const DEFAULT_START_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2022, 10, 10) {
    Some(d) => d,
    None => panic!("valid date"),
};

/// What to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// First history day (default 2022-10-10).
    pub start_date: NaiveDate,
    /// Last history day; `None` = yesterday (UTC), stepping back while it is not published.
    pub current_date: Option<NaiveDate>,
    /// Longest forecast to cut the known vectors for: they run to
    /// `min(last sector-table day, current_date + window_days - 1)`.
    pub window_days: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            start_date: DEFAULT_START_DATE,
            current_date: None,
            window_days: mechafil_core::MAX_FORECAST_DAYS,
        }
    }
}

/// Fetches everything DATA.md lists and derives the [`NetworkData`]; validated before it is
/// returned. "Yesterday" is read from the UTC wall clock only when `opts.current_date` is `None`
/// ([`fetch_network_data_at`] takes "today" as an argument instead).
pub async fn fetch_network_data(
    config: &SpacescopeConfig,
    opts: &FetchOptions,
) -> Result<NetworkData, FetchError> {
    fetch_network_data_at(config, opts, Utc::now().date_naive()).await
}
