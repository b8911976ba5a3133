//! The Spacescope endpoints the pipeline reads ([`Endpoint`]) and why a fetch fails
//! ([`FetchError`], [`DataProblem`]). Every error names the endpoint and, for date-ranged
//! queries, the date range it asked for.

use std::fmt;

use chrono::NaiveDate;

use super::dates::DateRange;
use crate::network_data::NetworkDataError;

/// One Spacescope v2 endpoint (DATA.md, "Endpoints").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `power/sectors_schedule_expiration`: the whole sector expiration table, no parameters.
    SectorExpiration,
    /// `power/network_storage_capacity`: network RB/QA power and the baseline.
    StorageCapacity,
    /// `power/daily_power_onboarding_by_sector_size`: daily committed RB/QA power.
    Onboarding,
    /// `circulating_supply/circulating_supply`: the daily supply breakdown.
    CirculatingSupply,
    /// `deals/deal_size`: daily activated deal sizes.
    DealSize,
}

impl Endpoint {
    /// The URL path, e.g. `/v2/power/network_storage_capacity`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::SectorExpiration => "/v2/power/sectors_schedule_expiration",
            Endpoint::StorageCapacity => "/v2/power/network_storage_capacity",
            Endpoint::Onboarding => "/v2/power/daily_power_onboarding_by_sector_size",
            Endpoint::CirculatingSupply => "/v2/circulating_supply/circulating_supply",
            Endpoint::DealSize => "/v2/deals/deal_size",
        }
    }

    /// The row field holding the date.
    pub fn date_field(self) -> &'static str {
        match self {
            Endpoint::SectorExpiration => "interest_date",
            _ => "stat_date",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path())
    }
}

/// Where a failed request went: the endpoint and, for date-ranged queries, the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestTarget {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The queried range (`None` for the whole-table endpoint).
    pub range: Option<DateRange>,
}

impl fmt::Display for RequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.range {
            Some(range) => write!(f, "{} for {}", self.endpoint, range),
            None => write!(f, "{} (whole table)", self.endpoint),
        }
    }
}

/// Why the data of one response (or one joined series) cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DataProblem {
    /// A row lacks a field the pipeline needs.
    #[error("row for {day} has no field {field}")]
    MissingField {
        /// The row's date.
        day: NaiveDate,
        /// The field.
        field: &'static str,
    },
    /// A row has no parseable date.
    #[error("row {index} has no valid {field} (expected \"YYYY-MM-DDT00:00:00Z\"): {found}")]
    BadDate {
        /// Position in the response.
        index: usize,
        /// The date field's name.
        field: &'static str,
        /// What was there.
        found: String,
    },
    /// A field is not a finite number (or a string holding one).
    #[error("{field} on {day} is not a finite number: {found}")]
    NotNumeric {
        /// The row's date.
        day: NaiveDate,
        /// The field.
        field: &'static str,
        /// The literal.
        found: String,
    },
    /// An integral field (onboarded bytes) has a fractional or out-of-range value.
    #[error("{field} on {day} is not an integer: {found}")]
    NotIntegral {
        /// The row's date.
        day: NaiveDate,
        /// The field.
        field: &'static str,
        /// The literal.
        found: String,
    },
    /// A day of the queried range has no row.
    #[error("no row for {day}")]
    MissingDay {
        /// The missing day.
        day: NaiveDate,
    },
    /// Two rows for the same day disagree.
    #[error("two different rows for {day}")]
    ConflictingDuplicate {
        /// The day.
        day: NaiveDate,
    },
    /// A row lies outside the queried range.
    #[error("row for {day} is outside the queried range")]
    OutOfRange {
        /// The row's day.
        day: NaiveDate,
    },
    /// A field that is never zero on a published day is zero (or negative).
    #[error("{field} is {value} on {day}; it is positive on every published day")]
    NotPositive {
        /// The field.
        field: &'static str,
        /// The day.
        day: NaiveDate,
        /// The value.
        value: f64,
    },
    /// A daily flow is zero on the last day of the history (most likely not finished yet).
    #[error("{field} is zero on the latest day, {day}; it looks unpublished")]
    ZeroOnLatestDay {
        /// The field.
        field: &'static str,
        /// The day.
        day: NaiveDate,
    },
    /// A daily flow is zero on too many days (unpublished days often read as zeros).
    #[error("{field} is zero on {zeros} of {days} days (first on {first}); at most {allowed} allowed")]
    TooManyZeros {
        /// The field.
        field: &'static str,
        /// How many zero days.
        zeros: usize,
        /// Days checked.
        days: usize,
        /// First zero day.
        first: NaiveDate,
        /// The most zero days accepted.
        allowed: usize,
    },
}

/// Why [`super::fetch_network_data`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The request failed at the transport level (connect, timeout, reset) on every attempt.
    #[error("GET {target} failed after {attempts} attempt(s): {kind}: {source}")]
    Transport {
        /// What was requested.
        target: RequestTarget,
        /// Attempts made.
        attempts: u32,
        /// `timed out`, `connection failed`, ...
        kind: &'static str,
        /// The last error.
        #[source]
        source: reqwest::Error,
    },
    /// Spacescope rejected the token.
    #[error(
        "GET {target}: HTTP {status}: the token was rejected ({message}); check SPACESCOPE_TOKEN / SPACESCOPE_AUTH_FILE"
    )]
    Unauthorized {
        /// What was requested.
        target: RequestTarget,
        /// 401 or 403.
        status: u16,
        /// The envelope's message, if any.
        message: String,
    },
    /// An HTTP error status (after retries for 429 and 5xx).
    #[error("GET {target}: HTTP {status} after {attempts} attempt(s): {message}")]
    Status {
        /// What was requested.
        target: RequestTarget,
        /// The status code.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// The envelope's message or the start of the body.
        message: String,
    },
    /// The body is not the JSON envelope `{"code", "message", "data": [...]}`.
    #[error("GET {target}: malformed response: {detail}")]
    Malformed {
        /// What was requested.
        target: RequestTarget,
        /// The parse error.
        detail: String,
    },
    /// The envelope reports an error (`code` != 0).
    #[error("GET {target}: Spacescope error code {code}: {message}")]
    Api {
        /// What was requested.
        target: RequestTarget,
        /// The envelope's code.
        code: i64,
        /// The envelope's message.
        message: String,
    },
    /// The rows are incomplete or inconsistent.
    #[error("GET {target}: {problem}")]
    Data {
        /// What was requested (or the endpoint whose joined series failed).
        target: RequestTarget,
        /// What is wrong.
        problem: DataProblem,
    },
    /// The latest day was not published on any of the step-back candidates.
    #[error(
        "no daily data published for any day from {latest} back to {earliest} (the last query chunks of {endpoint} lack them)"
    )]
    NotPublished {
        /// First candidate (yesterday).
        latest: NaiveDate,
        /// Last candidate tried.
        earliest: NaiveDate,
        /// The endpoint that lacked the last candidate.
        endpoint: Endpoint,
    },
    /// `start_date` is before the first row of the sector table.
    #[error("start_date {start_date} is before the first day of the sector expiration table ({first_day})")]
    StartBeforeSectorTable {
        /// The requested start date.
        start_date: NaiveDate,
        /// The table's first day.
        first_day: NaiveDate,
    },
    /// The fetch options are inconsistent.
    #[error("invalid fetch options: {0}")]
    Options(String),
    /// The derived snapshot fails its consistency check.
    #[error("the derived snapshot is inconsistent: {0}")]
    Inconsistent(#[from] NetworkDataError),
}
