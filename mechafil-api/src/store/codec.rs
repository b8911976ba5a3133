//! The compact binary encoding of a [`NetworkData`] in the store: a magic tag and a format
//! version, then every field in a fixed order, little-endian. Floats are stored as their IEEE bit
//! patterns, so every value (NaN included) comes back bit for bit; decoding 20k floats takes
//! microseconds, where JSON would take milliseconds.
//!
//! The field order is written out here by hand rather than derived from serde: a field added to
//! `Snapshot` breaks the build here instead of silently changing stored bytes. Any change to the
//! layout must bump [`FORMAT_VERSION`].

use chrono::{Datelike, NaiveDate};
use mechafil_core::{SmoothedMetrics, Snapshot};

use crate::network_data::{DatedSeries, NetworkData, RecentHistory, SupplyHistory};

/// First bytes of every encoded snapshot.
const MAGIC: &[u8; 4] = b"MFND";
/// Layout version; decoding refuses any other.
pub const FORMAT_VERSION: u16 = 1;

/// Why stored bytes cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The bytes do not start with the magic tag.
    #[error("not an encoded snapshot (bad magic)")]
    BadMagic,
    /// Written by another version of this format.
    #[error("snapshot encoding version {found}, this build reads version {FORMAT_VERSION}")]
    Version {
        /// The version found.
        found: u16,
    },
    /// The bytes end in the middle of a field.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// A field holds an impossible value.
    #[error("invalid {0} at byte {1}")]
    Invalid(&'static str, usize),
    /// Bytes follow the last field.
    #[error("{0} unexpected trailing bytes")]
    Trailing(usize),
}

/// Encodes `data`.
pub fn encode(data: &NetworkData) -> Vec<u8> {
    let s = &data.snapshot;
    let n_floats = s.historical_raw_power_eib.len() * 10
        + s.rb_known_scheduled_expire_vec.len() * 2
        + s.known_scheduled_pledge_release_full_vec.len()
        + 600;
    let mut w = Writer(Vec::with_capacity(n_floats * 8 + 256));
    w.0.extend_from_slice(MAGIC);
    w.0.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    w.date(s.start_date);
    w.date(s.current_date);
    w.f64(s.smoothed.raw_byte_power);
    w.f64(s.smoothed.renewal_rate);
    w.f64(s.smoothed.filplus_rate);
    w.f64(s.rb_power_zero);
    w.f64(s.qa_power_zero);
    w.floats(&s.historical_raw_power_eib);
    w.floats(&s.historical_qa_power_eib);
    w.floats(&s.historical_onboarded_rb_power_pib);
    w.floats(&s.historical_onboarded_qa_power_pib);
    w.floats(&s.historical_renewed_rb_power_pib);
    w.floats(&s.historical_renewed_qa_power_pib);
    w.floats(&s.rb_known_scheduled_expire_vec);
    w.floats(&s.qa_known_scheduled_expire_vec);
    w.floats(&s.known_scheduled_pledge_release_full_vec);
    w.0.extend_from_slice(&s.start_vested_amt.to_le_bytes());
    w.f64(s.zero_cum_capped_power_eib);
    w.f64(s.init_baseline_eib);
    w.f64(s.circ_supply_zero);
    w.f64(s.locked_fil_zero);
    w.opt(s.locked_reward_zero, Writer::f64);
    w.f64(s.daily_burnt_fil);
    w.floats(&s.burnt_fil_vec);
    w.floats(&s.historical_renewal_rate);
    for series in [&data.recent.raw_byte_power, &data.recent.renewal_rate, &data.recent.filplus_rate] {
        w.date(series.start_date);
        w.floats(&series.values);
    }
    w.opt(data.supply.as_ref(), |w, supply| {
        w.date(supply.start_date);
        for (_, values) in supply.series() {
            w.floats(values);
        }
    });
    w.opt(data.end_date, Writer::date);
    w.0
}

/// Decodes bytes written by [`encode`] (same [`FORMAT_VERSION`]).
pub fn decode(bytes: &[u8]) -> Result<NetworkData, DecodeError> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(4)? != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let found = u16::from_le_bytes(r.array()?);
    if found != FORMAT_VERSION {
        return Err(DecodeError::Version { found });
    }
    let snapshot = Snapshot {
        start_date: r.date()?,
        current_date: r.date()?,
        smoothed: SmoothedMetrics {
            raw_byte_power: r.f64()?,
            renewal_rate: r.f64()?,
            filplus_rate: r.f64()?,
        },
        rb_power_zero: r.f64()?,
        qa_power_zero: r.f64()?,
        historical_raw_power_eib: r.floats()?,
        historical_qa_power_eib: r.floats()?,
        historical_onboarded_rb_power_pib: r.floats()?,
        historical_onboarded_qa_power_pib: r.floats()?,
        historical_renewed_rb_power_pib: r.floats()?,
        historical_renewed_qa_power_pib: r.floats()?,
        rb_known_scheduled_expire_vec: r.floats()?,
        qa_known_scheduled_expire_vec: r.floats()?,
        known_scheduled_pledge_release_full_vec: r.floats()?,
        start_vested_amt: i64::from_le_bytes(r.array()?),
        zero_cum_capped_power_eib: r.f64()?,
        init_baseline_eib: r.f64()?,
        circ_supply_zero: r.f64()?,
        locked_fil_zero: r.f64()?,
        locked_reward_zero: r.opt(Reader::f64)?,
        daily_burnt_fil: r.f64()?,
        burnt_fil_vec: r.floats()?,
        historical_renewal_rate: r.floats()?,
    };
    let mut series = || -> Result<DatedSeries, DecodeError> {
        Ok(DatedSeries { start_date: r.date()?, values: r.floats()? })
    };
    let recent =
        RecentHistory { raw_byte_power: series()?, renewal_rate: series()?, filplus_rate: series()? };
    let supply = r.opt(|r| {
        Ok(SupplyHistory {
            start_date: r.date()?,
            circulating_fil: r.floats()?,
            locked_fil: r.floats()?,
            burnt_fil: r.floats()?,
            mined_fil: r.floats()?,
            vested_fil: r.floats()?,
            reserve_disbursed_fil: r.floats()?,
        })
    })?;
    let end_date = r.opt(Reader::date)?;
    if r.pos != bytes.len() {
        return Err(DecodeError::Trailing(bytes.len() - r.pos));
    }
    Ok(NetworkData { snapshot, recent, supply, end_date })
}

struct Writer(Vec<u8>);

impl Writer {
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    fn date(&mut self, d: NaiveDate) {
        self.0.extend_from_slice(&d.num_days_from_ce().to_le_bytes());
    }

    fn floats(&mut self, values: &[f64]) {
        let len = u32::try_from(values.len()).expect("fewer than 2^32 values");
        self.0.extend_from_slice(&len.to_le_bytes());
        for v in values {
            self.f64(*v);
        }
    }

    fn opt<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Writer, T)) {
        match value {
            None => self.0.push(0),
            Some(v) => {
                self.0.push(1);
                write(self, v);
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(DecodeError::Truncated(self.pos))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("take returns N bytes"))
    }

    fn f64(&mut self) -> Result<f64, DecodeError> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array()?)))
    }

    fn date(&mut self) -> Result<NaiveDate, DecodeError> {
        let at = self.pos;
        NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(self.array()?))
            .ok_or(DecodeError::Invalid("date", at))
    }

    fn floats(&mut self) -> Result<Vec<f64>, DecodeError> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        let raw = self.take(len.checked_mul(8).ok_or(DecodeError::Truncated(self.pos))?)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| f64::from_bits(u64::from_le_bytes(c.try_into().expect("8 bytes"))))
            .collect())
    }

    fn opt<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        let at = self.pos;
        match self.take(1)?[0] {
            0 => Ok(None),
            1 => read(self).map(Some),
            _ => Err(DecodeError::Invalid("option tag", at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_network_data;

    #[test]
    fn round_trips_bit_for_bit_including_nan_and_options() {
        let mut data = demo_network_data();
        data.recent.filplus_rate.values[3] = f64::NAN;
        data.recent.renewal_rate.values[4] = f64::from_bits(0x7ff8_0000_dead_beef);
        data.recent.raw_byte_power.values[5] = -0.0;
        let bytes = encode(&data);
        let back = decode(&bytes).unwrap();
        assert_eq!(encode(&back), bytes, "re-encoding gives the same bytes");
        assert_eq!(back.recent.renewal_rate.values[4].to_bits(), 0x7ff8_0000_dead_beef);
        data.supply = None;
        data.end_date = None;
        data.snapshot.locked_reward_zero = None;
        let back = decode(&encode(&data)).unwrap();
        assert!(
            back.supply.is_none() && back.end_date.is_none() && back.snapshot.locked_reward_zero.is_none()
        );
    }

    #[test]
    fn rejects_damaged_bytes() {
        let bytes = encode(&demo_network_data());
        assert_eq!(decode(&bytes[..bytes.len() - 3]).unwrap_err(), DecodeError::Truncated(bytes.len() - 4));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer).unwrap_err(), DecodeError::Trailing(1));
        let mut other = bytes.clone();
        other[4] = 9;
        assert_eq!(decode(&other).unwrap_err(), DecodeError::Version { found: 9 });
        assert_eq!(decode(b"JSON{}").unwrap_err(), DecodeError::BadMagic);
    }
}
