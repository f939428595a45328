//! Auto-partitioning, as Fluss does it: a table with `table.auto-partition.enabled = true`
//! gets its time partitions pre-created and its expired ones dropped, at creation and then
//! in every round (shard 0's maintenance every `auto_partition_check_interval_ms`, or
//! `Rill::run_auto_partitioning`).
//!
//! | property | default | meaning |
//! |---|---|---|
//! | `table.auto-partition.enabled` | `false` | |
//! | `table.auto-partition.time-unit` | `DAY` | `HOUR` (`yyyyMMddHH`), `DAY` (`yyyyMMdd`), `MONTH` (`yyyyMM`), `QUARTER` (`yyyyQ`), `YEAR` (`yyyy`) |
//! | `table.auto-partition.num-precreate` | `2` | partitions created from the current one on (current included) |
//! | `table.auto-partition.num-retention` | `7` | past partitions kept; older ones are dropped; negative keeps all |
//! | `table.auto-partition.key` | the only partition key | the time key when there are several |
//! | `table.auto-partition.time-zone` | `UTC` | `UTC`, `Z`, `GMT`, `Etc/UTC` or a fixed offset `+08:00` / `UTC-05:30` (no IANA zones) |
//!
//! As in Fluss, the auto-partition key must be a STRING column, and a table with several
//! partition keys gets no pre-created partitions (the other keys' values are unknown): only
//! retention applies to it, on the value of its time key. A partition whose time value does
//! not parse in the table's format is never dropped. The formats are Fluss's
//! (`ConfigOptions.TABLE_AUTO_PARTITION_TIME_UNIT`); its newer `time-format` override is not
//! supported.

use std::collections::BTreeMap;

use rill_engine::schema::{DataType, TableDescriptor};

use crate::civil;
use crate::error::{Error, Result};

/// Most partitions one round pre-creates per table.
pub const PRECREATE_MAX: u32 = 1000;

const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;
/// Largest fixed time-zone offset, minutes.
const OFFSET_MINUTES_MAX: i64 = 18 * 60;

/// The time unit of one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    Hour,
    Day,
    Month,
    Quarter,
    Year,
}

/// A table's auto-partitioning settings, read from its properties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoPartition {
    pub time_unit: TimeUnit,
    pub num_precreate: u32,
    /// `None`: keep every past partition.
    pub num_retention: Option<u32>,
    /// Position of the time key among the partition keys.
    pub key_index: usize,
    /// Offset of the time zone from UTC, minutes.
    pub offset_minutes: i64,
}

/// The settings of `desc`, `None` when auto-partitioning is off; an error naming the
/// property when one is invalid.
pub fn settings(desc: &TableDescriptor) -> Result<Option<AutoPartition>> {
    let prop = |key: &str| desc.properties.get(key).map(String::as_str);
    let bad = |key: &str, reason: String| Error::InvalidRequest {
        table: desc.name.clone(),
        reason: format!("property '{key}': {reason}"),
    };
    match prop("table.auto-partition.enabled").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => return Ok(None),
        Some("true") => {}
        Some(other) => return Err(bad("table.auto-partition.enabled", format!("'{other}' is not true or false"))),
    }
    if desc.partition_keys.is_empty() {
        return Err(bad("table.auto-partition.enabled", "the table has no partition keys".into()));
    }
    let unit_key = "table.auto-partition.time-unit";
    let time_unit = match prop(unit_key).unwrap_or("DAY").to_ascii_uppercase().as_str() {
        "HOUR" => TimeUnit::Hour,
        "DAY" => TimeUnit::Day,
        "MONTH" => TimeUnit::Month,
        "QUARTER" => TimeUnit::Quarter,
        "YEAR" => TimeUnit::Year,
        other => return Err(bad(unit_key, format!("'{other}' is not HOUR, DAY, MONTH, QUARTER or YEAR"))),
    };
    let pre_key = "table.auto-partition.num-precreate";
    let num_precreate = match prop(pre_key) {
        None => 2,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= PRECREATE_MAX)
            .ok_or_else(|| bad(pre_key, format!("'{v}' is not a whole number in 0..={PRECREATE_MAX}")))?,
    };
    let ret_key = "table.auto-partition.num-retention";
    let num_retention = match prop(ret_key) {
        None => Some(7),
        Some(v) => {
            let n = v.parse::<i64>().map_err(|_| bad(ret_key, format!("'{v}' is not a whole number")))?;
            u32::try_from(n).ok()
        }
    };
    let key_index =
        key_index(desc, prop("table.auto-partition.key")).map_err(|r| bad("table.auto-partition.key", r))?;
    let tz_key = "table.auto-partition.time-zone";
    let offset_minutes = match prop(tz_key) {
        None => 0,
        Some(tz) => parse_offset(tz).ok_or_else(|| {
            bad(tz_key, format!("'{tz}' is not UTC or a fixed offset like +08:00 (IANA zones are not supported)"))
        })?,
    };
    Ok(Some(AutoPartition { time_unit, num_precreate, num_retention, key_index, offset_minutes }))
}

fn key_index(desc: &TableDescriptor, named: Option<&str>) -> Result<usize, String> {
    let index = match named {
        Some(name) => desc
            .partition_keys
            .iter()
            .position(|k| k == name)
            .ok_or_else(|| format!("'{name}' is not a partition key ({:?})", desc.partition_keys))?,
        None if desc.partition_keys.len() == 1 => 0,
        None => return Err(format!("the table has partition keys {:?}: name the time key", desc.partition_keys)),
    };
    let column = desc.partition_keys.get(index).and_then(|k| desc.schema.columns.iter().find(|c| &c.name == k));
    match column {
        Some(c) if c.data_type == DataType::String => Ok(index),
        Some(c) => Err(format!("the auto-partition key '{}' must be STRING, it is {}", c.name, c.data_type)),
        None => Err("the auto-partition key is not a column".into()),
    }
}

/// Minutes east of UTC of `UTC`, `Z`, `GMT`, `Etc/UTC`, `+hh:mm`, `-hh:mm`, `UTC+hh:mm`, ...
fn parse_offset(tz: &str) -> Option<i64> {
    let rest = tz.strip_prefix("UTC").or_else(|| tz.strip_prefix("GMT")).unwrap_or(tz);
    if rest.is_empty() || rest == "Z" || tz == "Etc/UTC" {
        return Some(0);
    }
    let (sign, hm) = match rest.as_bytes().first() {
        Some(b'+') => (1, rest.get(1..)?),
        Some(b'-') => (-1, rest.get(1..)?),
        _ => return None,
    };
    let (h, m) = hm.split_once(':').unwrap_or((hm, "0"));
    let (h, m) = (civil::digits(h)?, civil::digits(m)?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= OFFSET_MINUTES_MAX).then_some(sign * minutes)
}

impl AutoPartition {
    /// The number of the unit holding `now_ms` (hours, days, months or quarters since year 0 /
    /// 1970, or the year).
    pub fn unit_of(&self, now_ms: i64) -> i64 {
        let local_ms = now_ms + self.offset_minutes * 60_000;
        let days = local_ms.div_euclid(MS_PER_DAY);
        match self.time_unit {
            TimeUnit::Hour => local_ms.div_euclid(MS_PER_HOUR),
            TimeUnit::Day => days,
            TimeUnit::Month => {
                let (y, m, _) = civil::civil_from_days(days);
                y * 12 + i64::from(m) - 1
            }
            TimeUnit::Quarter => {
                let (y, m, _) = civil::civil_from_days(days);
                y * 4 + i64::from(m - 1) / 3
            }
            TimeUnit::Year => civil::civil_from_days(days).0,
        }
    }

    /// The partition value of unit number `unit` (Fluss's formats).
    pub fn format(&self, unit: i64) -> String {
        match self.time_unit {
            TimeUnit::Hour => {
                let (y, m, d) = civil::civil_from_days(unit.div_euclid(24));
                format!("{y:04}{m:02}{d:02}{:02}", unit.rem_euclid(24))
            }
            TimeUnit::Day => {
                let (y, m, d) = civil::civil_from_days(unit);
                format!("{y:04}{m:02}{d:02}")
            }
            TimeUnit::Month => format!("{:04}{:02}", unit.div_euclid(12), unit.rem_euclid(12) + 1),
            TimeUnit::Quarter => format!("{:04}{}", unit.div_euclid(4), unit.rem_euclid(4) + 1),
            TimeUnit::Year => format!("{unit:04}"),
        }
    }

    /// The unit number of a partition value; `None` when it is not in the table's format.
    pub fn parse(&self, value: &str) -> Option<i64> {
        let field = |range: std::ops::Range<usize>| value.get(range).and_then(civil::digits);
        let month = |at: usize| field(at..at + 2).and_then(|m| u32::try_from(m).ok());
        match (self.time_unit, value.len()) {
            (TimeUnit::Hour, 10) => {
                let days = civil::days_from_civil(field(0..4)?, month(4)?, u32::try_from(field(6..8)?).ok()?)?;
                let hour = field(8..10).filter(|h| *h < 24)?;
                Some(days * 24 + hour)
            }
            (TimeUnit::Day, 8) => civil::days_from_civil(field(0..4)?, month(4)?, u32::try_from(field(6..8)?).ok()?),
            (TimeUnit::Month, 6) => {
                let m = month(4).filter(|m| (1..=12).contains(m))?;
                Some(field(0..4)? * 12 + i64::from(m) - 1)
            }
            (TimeUnit::Quarter, 5) => {
                let q = field(4..5).filter(|q| (1..=4).contains(q))?;
                Some(field(0..4)? * 4 + q - 1)
            }
            (TimeUnit::Year, 4) => field(0..4),
            _ => None,
        }
    }
}

/// What one round does to one table.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Values (in partition-key order) of partitions to create.
    pub create: Vec<Vec<String>>,
    /// Names of partitions to drop.
    pub drop: Vec<String>,
}

/// The round at `now_ms` for a table with `settings` whose partitions are `existing` (name ->
/// values).
pub fn plan(settings: &AutoPartition, existing: &BTreeMap<String, Vec<String>>, keys: usize, now_ms: i64) -> Plan {
    let current = settings.unit_of(now_ms);
    let mut plan = Plan::default();
    if let Some(retention) = settings.num_retention {
        let oldest_kept = current - i64::from(retention);
        for (name, values) in existing {
            let unit = values.get(settings.key_index).and_then(|v| settings.parse(v));
            if unit.is_some_and(|u| u < oldest_kept) {
                plan.drop.push(name.clone());
            }
        }
    }
    if keys == 1 {
        for unit in current..current + i64::from(settings.num_precreate) {
            let value = settings.format(unit);
            if !existing.contains_key(&value) {
                plan.create.push(vec![value]);
            }
        }
    }
    plan
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn daily() -> AutoPartition {
        AutoPartition {
            time_unit: TimeUnit::Day,
            num_precreate: 2,
            num_retention: Some(2),
            key_index: 0,
            offset_minutes: 0,
        }
    }

    /// 2024-11-11T10:30:00Z.
    const NOW_MS: i64 = 1_731_321_000_000;

    #[test]
    fn formats_like_fluss() {
        let mut s = daily();
        for (unit, text) in [
            (TimeUnit::Hour, "2024111110"),
            (TimeUnit::Day, "20241111"),
            (TimeUnit::Month, "202411"),
            (TimeUnit::Quarter, "20244"),
            (TimeUnit::Year, "2024"),
        ] {
            s.time_unit = unit;
            let u = s.unit_of(NOW_MS);
            assert_eq!(s.format(u), text);
            assert_eq!(s.parse(text), Some(u));
        }
        s.time_unit = TimeUnit::Hour;
        assert_eq!(s.format(s.unit_of(NOW_MS) + 14), "2024111200");
        s.time_unit = TimeUnit::Month;
        assert_eq!(s.format(s.unit_of(NOW_MS) + 2), "202501");
        s.time_unit = TimeUnit::Quarter;
        assert_eq!(s.format(s.unit_of(NOW_MS) + 1), "20251");
        assert_eq!(s.parse("20245"), None);
        s.time_unit = TimeUnit::Day;
        s.offset_minutes = 14 * 60;
        assert_eq!(s.format(s.unit_of(NOW_MS)), "20241112");
        assert_eq!(s.parse("20241131"), None);
        assert_eq!(s.parse("2024-11-11"), None);
    }

    #[test]
    fn plans_precreation_and_retention() {
        let s = daily();
        let existing: BTreeMap<String, Vec<String>> = ["20241108", "20241109", "20241111", "other"]
            .into_iter()
            .map(|v| (v.to_string(), vec![v.to_string()]))
            .collect();
        let p = plan(&s, &existing, 1, NOW_MS);
        assert_eq!(p.create, vec![vec!["20241112".to_string()]]);
        assert_eq!(p.drop, vec!["20241108".to_string()]);
        let none = AutoPartition { num_retention: None, ..s };
        assert!(plan(&none, &existing, 1, NOW_MS).drop.is_empty());
        assert!(plan(&s, &existing, 2, NOW_MS).create.is_empty());
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("UTC"), Some(0));
        assert_eq!(parse_offset("+08:00"), Some(480));
        assert_eq!(parse_offset("UTC-05:30"), Some(-330));
        assert_eq!(parse_offset("Europe/Oslo"), None);
        assert_eq!(parse_offset("+19:00"), None);
    }
}
