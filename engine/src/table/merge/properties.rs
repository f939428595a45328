//! Reading a table's merge-engine properties, with the checks Fluss makes when a table is
//! created (fluss-server `utils/TableDescriptorValidation.checkMergeEngine` and
//! `checkDeleteBehavior`, fluss-flink `FlinkAggFunctionParser`).
//!
//! | property | values |
//! |---|---|
//! | `table.merge-engine` | absent or `default` (last write wins), `first_row`, `versioned`, `aggregation` |
//! | `table.merge-engine.versioned.ver-column` | an INT, BIGINT, TIMESTAMP or TIMESTAMP_LTZ column |
//! | `table.delete.behavior` | `allow` (default engine's default), `ignore` (other engines' default), `disable` |
//! | `fields.<column>.agg` | an aggregate function name (aggregation engine only; not on a PK column) |
//! | `fields.<column>.<function>.delimiter` | the `listagg` / `string_agg` delimiter (Paimon's `fields.<column>.list-agg-delimiter` too) |
//!
//! Values are case-insensitive. `default` is rill's spelling of "no merge engine" (Fluss knows
//! only the three others).

use super::aggregate::{AggFunction, FUNCTION_NAMES, LISTAGG_DEFAULT_DELIMITER};
use crate::error::{Error, Result};
use crate::schema::{DataType, TableDescriptor};

/// The property naming the merge engine.
pub const MERGE_ENGINE: &str = "table.merge-engine";
/// The property naming the version column of the `versioned` engine.
pub const VERSION_COLUMN: &str = "table.merge-engine.versioned.ver-column";
/// The property choosing what a delete does.
pub const DELETE_BEHAVIOR: &str = "table.delete.behavior";

/// What a delete of a key does (`table.delete.behavior`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteBehavior {
    /// Deletes the row (or, for a partial delete, nulls the target columns).
    Allow,
    /// Drops the delete silently.
    Ignore,
    /// Rejects the delete with an error.
    Disable,
}

/// Which merge engine a table has, as read from its properties (positions are column indexes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum EngineChoice {
    Default,
    FirstRow,
    Versioned { column: usize },
    Aggregation { functions: Vec<Option<AggFunction>> },
}

/// Reads and checks the merge-engine properties of `desc`.
pub(super) fn read(desc: &TableDescriptor) -> Result<(EngineChoice, DeleteBehavior)> {
    let err = |reason: String| Error::InvalidSchema { table: desc.name.clone(), reason };
    let engine = property(desc, MERGE_ENGINE).map(str::to_ascii_lowercase);
    let choice = match engine.as_deref() {
        None | Some("default") => EngineChoice::Default,
        Some("first_row") => EngineChoice::FirstRow,
        Some("versioned") => EngineChoice::Versioned { column: version_column(desc)? },
        Some("aggregation") => EngineChoice::Aggregation { functions: functions(desc)? },
        Some(other) => {
            return Err(err(format!(
                "unknown {MERGE_ENGINE} '{other}' (supported: default, first_row, versioned, aggregation)"
            )))
        }
    };
    if !matches!(choice, EngineChoice::Aggregation { .. }) {
        if let Some(key) = desc.properties.keys().find(|k| k.starts_with("fields.") && k.ends_with(".agg")) {
            return Err(err(format!("'{key}' needs '{MERGE_ENGINE}' = 'aggregation'")));
        }
    }
    let delete = delete_behavior(desc, &choice)?;
    Ok((choice, delete))
}

fn property<'a>(desc: &'a TableDescriptor, key: &str) -> Option<&'a str> {
    desc.properties.get(key).map(|v| v.trim())
}

fn version_column(desc: &TableDescriptor) -> Result<usize> {
    let err = |reason: String| Error::InvalidSchema { table: desc.name.clone(), reason };
    let name = property(desc, VERSION_COLUMN)
        .ok_or_else(|| err(format!("'{VERSION_COLUMN}' must be set for the versioned merge engine")))?;
    let index = desc
        .schema
        .index_of(name)
        .ok_or_else(|| err(format!("the version column '{name}' ({VERSION_COLUMN}) is not a column of the table")))?;
    let ty = desc.schema.columns.get(index).map(|c| c.data_type);
    match ty {
        Some(DataType::Int | DataType::BigInt | DataType::Timestamp { .. } | DataType::TimestampLtz { .. }) => {
            Ok(index)
        }
        Some(other) => Err(err(format!(
            "the version column '{name}' must be INT, BIGINT, TIMESTAMP or TIMESTAMP_LTZ, but is {other}"
        ))),
        None => Err(err(format!("the version column '{name}' is not a column of the table"))),
    }
}

fn delete_behavior(desc: &TableDescriptor, choice: &EngineChoice) -> Result<DeleteBehavior> {
    let err = |reason: String| Error::InvalidSchema { table: desc.name.clone(), reason };
    let set = match property(desc, DELETE_BEHAVIOR).map(str::to_ascii_lowercase).as_deref() {
        None => None,
        Some("allow") => Some(DeleteBehavior::Allow),
        Some("ignore") => Some(DeleteBehavior::Ignore),
        Some("disable") => Some(DeleteBehavior::Disable),
        Some(other) => {
            return Err(err(format!("unknown {DELETE_BEHAVIOR} '{other}' (supported: allow, ignore, disable)")))
        }
    };
    match (choice, set) {
        (EngineChoice::FirstRow | EngineChoice::Versioned { .. }, Some(DeleteBehavior::Allow)) => {
            let engine = if matches!(choice, EngineChoice::FirstRow) { "first_row" } else { "versioned" };
            Err(err(format!(
                "the {engine} merge engine does not support deletes: '{DELETE_BEHAVIOR}' must be 'ignore' or 'disable', not 'allow'"
            )))
        }
        (_, Some(behavior)) => Ok(behavior),
        (EngineChoice::Default, None) => Ok(DeleteBehavior::Allow),
        (_, None) => Ok(DeleteBehavior::Ignore),
    }
}

/// The function of every column: `None` for a primary-key column, the configured function or
/// `last_value_ignore_nulls` for the others.
fn functions(desc: &TableDescriptor) -> Result<Vec<Option<AggFunction>>> {
    let err = |reason: String| Error::InvalidSchema { table: desc.name.clone(), reason };
    for key in desc.properties.keys() {
        let Some(column) = key.strip_prefix("fields.").and_then(|k| k.strip_suffix(".agg")) else { continue };
        if desc.schema.index_of(column).is_none() {
            return Err(err(format!("'{key}' names unknown column '{column}'")));
        }
        if desc.primary_key.iter().any(|k| k == column) {
            return Err(err(format!("'{key}': primary key column '{column}' cannot have an aggregate function")));
        }
    }
    let mut functions = Vec::with_capacity(desc.schema.columns.len());
    for column in &desc.schema.columns {
        if desc.primary_key.contains(&column.name) {
            functions.push(None);
            continue;
        }
        let function = match property(desc, &format!("fields.{}.agg", column.name)) {
            None => AggFunction::LastValueIgnoreNulls,
            Some(name) => parse_function(desc, &column.name, name)?,
        };
        if !function.accepts(&column.data_type) {
            return Err(err(format!(
                "aggregate function '{}' of column '{}' does not take its type {}",
                function.name(),
                column.name,
                column.data_type
            )));
        }
        functions.push(Some(function));
    }
    Ok(functions)
}

fn parse_function(desc: &TableDescriptor, column: &str, name: &str) -> Result<AggFunction> {
    let err = |reason: String| Error::InvalidSchema { table: desc.name.clone(), reason };
    let spelled = name.to_ascii_lowercase();
    Ok(match spelled.replace('-', "_").as_str() {
        "sum" => AggFunction::Sum,
        "product" => AggFunction::Product,
        "max" => AggFunction::Max,
        "min" => AggFunction::Min,
        "last_value" => AggFunction::LastValue,
        "last_value_ignore_nulls" => AggFunction::LastValueIgnoreNulls,
        "first_value" => AggFunction::FirstValue,
        "first_value_ignore_nulls" => AggFunction::FirstValueIgnoreNulls,
        "bool_and" => AggFunction::BoolAnd,
        "bool_or" => AggFunction::BoolOr,
        "listagg" | "string_agg" => AggFunction::ListAgg { delimiter: delimiter(desc, column, &spelled)? },
        "rbm32" | "rbm64" => {
            return Err(err(format!(
                "aggregate function '{name}' of column '{column}' (roaring bitmaps) is not supported by rill yet"
            )))
        }
        "" => return Err(err(format!("empty aggregate function name for column '{column}'"))),
        _ => {
            return Err(err(format!(
                "unknown aggregate function '{name}' for column '{column}' (supported: {})",
                FUNCTION_NAMES.join(", ")
            )))
        }
    })
}

/// `fields.<column>.<function>.delimiter` (Fluss), else `fields.<column>.list-agg-delimiter`
/// (Paimon), else ",". Other `fields.<column>.<function>.*` parameters are errors, as in Fluss.
fn delimiter(desc: &TableDescriptor, column: &str, function: &str) -> Result<String> {
    let err = |reason: String| Error::InvalidSchema { table: desc.name.clone(), reason };
    let prefix = format!("fields.{column}.{function}.");
    let mut found = None;
    for (key, value) in desc.properties.range(prefix.clone()..) {
        let Some(param) = key.strip_prefix(&prefix) else { break };
        if param != "delimiter" {
            return Err(err(format!(
                "'{key}': function '{function}' has no parameter '{param}' (supported: delimiter)"
            )));
        }
        found = Some(value.clone());
    }
    let found = found.or_else(|| desc.properties.get(&format!("fields.{column}.list-agg-delimiter")).cloned());
    match found {
        Some(d) if d.is_empty() => Err(err(format!("the {function} delimiter of column '{column}' must not be empty"))),
        Some(d) => Ok(d),
        None => Ok(LISTAGG_DEFAULT_DELIMITER.to_string()),
    }
}
