//! Table properties the shards apply to a bucket's storage (as Fluss names them).
//!
//! - `table.log.ttl`: how long the log (a log table's data, a primary-key table's changelog)
//!   is kept; default 7 days; `0ms` (any zero) keeps it forever. Spelled as Fluss (Flink's
//!   duration syntax): a whole number and an optional unit, spaces allowed between them:
//!   `ms`/`milli`/`millis`/`millisecond(s)` (the default unit), `s`/`sec`/`secs`/`second(s)`,
//!   `m`/`min`/`minute(s)`, `h`/`hour(s)`, `d`/`day(s)`.

use rill_engine::schema::TableDescriptor;

use crate::error::{Error, Result};

/// The log retention property.
pub const LOG_TTL: &str = "table.log.ttl";
/// Fluss's default `table.log.ttl`: 7 days.
pub const LOG_TTL_MS_DEFAULT: i64 = 7 * 24 * 3600 * 1000;

/// The log retention of `desc` in ms (`None` = keep forever). Fails on a value that does not
/// parse, naming the table and the property.
pub fn log_retention_ms(desc: &TableDescriptor) -> Result<Option<i64>> {
    let Some(text) = desc.properties.get(LOG_TTL) else { return Ok(Some(LOG_TTL_MS_DEFAULT)) };
    let ms = duration_ms(text).map_err(|reason| Error::InvalidRequest {
        table: desc.name.clone(),
        reason: format!("property '{LOG_TTL}' = '{text}': {reason}"),
    })?;
    Ok((ms > 0).then_some(ms))
}

/// A duration in Flink's syntax (see the module docs), in milliseconds.
pub fn duration_ms(text: &str) -> std::result::Result<i64, String> {
    let text = text.trim();
    let digits = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err("expected a whole number followed by an optional unit (e.g. '7d', '2 h', '500ms')".into());
    }
    let number: i64 = number.parse().map_err(|_| format!("'{number}' is too large"))?;
    let unit_ms: i64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "ms" | "milli" | "millis" | "millisecond" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        other => return Err(format!("unknown unit '{other}' (ms, s, min, h, d)")),
    };
    number.checked_mul(unit_ms).ok_or_else(|| format!("'{text}' does not fit in 64-bit milliseconds"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_as_fluss_spells_them() {
        assert_eq!(duration_ms("7d").unwrap(), LOG_TTL_MS_DEFAULT);
        assert_eq!(duration_ms("7 days").unwrap(), LOG_TTL_MS_DEFAULT);
        assert_eq!(duration_ms(" 2 h ").unwrap(), 7_200_000);
        assert_eq!(duration_ms("90min").unwrap(), 5_400_000);
        assert_eq!(duration_ms("30 s").unwrap(), 30_000);
        assert_eq!(duration_ms("500").unwrap(), 500);
        assert_eq!(duration_ms("0ms").unwrap(), 0);
        assert_eq!(duration_ms("1 HOUR").unwrap(), 3_600_000);
    }

    #[test]
    fn bad_durations_say_why() {
        assert!(duration_ms("").unwrap_err().contains("whole number"));
        assert!(duration_ms("d7").unwrap_err().contains("whole number"));
        assert!(duration_ms("-1d").unwrap_err().contains("whole number"));
        assert!(duration_ms("3 weeks").unwrap_err().contains("unknown unit 'weeks'"));
        assert!(duration_ms("1.5h").unwrap_err().contains("unknown unit '.5h'"));
        assert!(duration_ms("99999999999999999999d").unwrap_err().contains("too large"));
        assert!(duration_ms("9999999999999999d").unwrap_err().contains("does not fit"));
    }

    #[test]
    fn retention_follows_the_property() {
        let schema = rill_engine::schema::Schema::new(vec![rill_engine::schema::Column::new(
            "a",
            rill_engine::schema::DataType::BigInt,
        )]);
        let mut desc = TableDescriptor::log_table("db.t", schema);
        assert_eq!(log_retention_ms(&desc).unwrap(), Some(LOG_TTL_MS_DEFAULT));
        desc.properties.insert(LOG_TTL.into(), "1 h".into());
        assert_eq!(log_retention_ms(&desc).unwrap(), Some(3_600_000));
        desc.properties.insert(LOG_TTL.into(), "0ms".into());
        assert_eq!(log_retention_ms(&desc).unwrap(), None);
        desc.properties.insert(LOG_TTL.into(), "soon".into());
        let e = log_retention_ms(&desc).unwrap_err().to_string();
        assert!(e.contains("db.t") && e.contains("table.log.ttl") && e.contains("soon"), "{e}");
    }
}
