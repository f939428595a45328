//! The merge engine of a primary-key table: what an upsert or a delete of one key does to the
//! stored row, as Fluss's row mergers decide (fluss-server `kv/rowmerger/*RowMerger.java`,
//! `kv/partialupdate/PartialUpdater.java`, and `KvTablet.processUpsert/processDeletion`).
//!
//! Pure functions on rows of [`Datum`]s: the caller reads the old row, asks the engine, writes
//! the [`Outcome`] and emits the changelog (`Unchanged` emits nothing).
//!
//! Rules, with the Fluss behaviour each follows:
//! - default: the new row replaces the old one (`DefaultRowMerger`), always a `Put` even when
//!   equal (Fluss emits -U/+U then too). A partial update takes the target columns from the new
//!   row and the others from the old row, or NULL for a new key (`PartialUpdater.updateRow`); one
//!   that targets only the primary key leaves an existing row `Unchanged`.
//! - first_row: a new key is inserted, an existing one is `Unchanged` (`FirstRowRowMerger`).
//! - versioned: the new row replaces the old one when its version is greater than **or equal
//!   to** the stored one (`VersionedRowMerger`: `compare(old, new) <= 0`). A NULL version counts
//!   as the smallest version in Fluss (INT/BIGINT NULL is `MIN_VALUE`); rill rejects a write
//!   whose version is NULL instead (`Error::InvalidWrite`): a silently ignored write is worse
//!   than a clear error. Stored rows never hold a NULL version.
//! - aggregation: a new key stores the written row as is; an existing one folds every column's
//!   function over (old, new) (`AggregateRowMerger`). rill returns `Unchanged` when the folded
//!   row equals the old one (Fluss would emit an identical -U/+U pair).
//! - Partial updates (target columns) must include every primary-key column, and need every
//!   non-primary-key column nullable (`PartialUpdater.sanityCheck`, `AggregationContext.
//!   sanityCheckTargetColumns`); first_row and versioned reject them. Targets naming every column
//!   are a full-row write.
//! - Deletes follow [`DeleteBehavior`]: `ignore` is `Unchanged`, `disable` an error, `allow`
//!   deletes an existing key (an absent key is `Unchanged`). A partial delete deletes the row when
//!   every non-target column is NULL, else nulls the non-primary-key target columns
//!   (`PartialUpdater.deleteRow`, `PartialAggregateRowMerger.delete`); `Unchanged` if that changes
//!   nothing.

use super::aggregate::AggFunction;
use super::datum::{check_datum, Datum};
use super::properties::{read, DeleteBehavior, EngineChoice};
use crate::error::{Error, Result};
use crate::schema::{Column, DataType, TableDescriptor};

/// What a write does to the stored row of its key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing changes and no changelog row is emitted.
    Unchanged,
    /// The key's row becomes this row (an insert when the key was absent, else an update).
    Put(Vec<Datum>),
    /// The key's row is removed.
    Delete,
}

/// The kind of merge engine a table has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeKind {
    /// Last write wins.
    Default,
    /// The first row of a key is kept.
    FirstRow,
    /// The row with the largest version is kept; `column` is the version column's position.
    Versioned { column: usize },
    /// Each column folds its aggregate function.
    Aggregation,
}

/// The merge engine of one primary-key table, built from its descriptor.
#[derive(Clone, Debug)]
pub struct MergeEngine {
    table: String,
    columns: Vec<Column>,
    is_pk: Vec<bool>,
    kind: MergeKind,
    delete_behavior: DeleteBehavior,
    /// One per column for the aggregation engine (`None` for primary-key columns); empty otherwise.
    functions: Vec<Option<AggFunction>>,
}

impl MergeEngine {
    /// Reads the table's merge-engine properties (see the `properties` module), checking them
    /// as Fluss does when the table is created.
    pub fn from_table(desc: &TableDescriptor) -> Result<Self> {
        let err = |reason: String| Error::InvalidSchema { table: desc.name.clone(), reason };
        if desc.primary_key.is_empty() {
            return Err(err("a merge engine needs a primary key table".into()));
        }
        let mut is_pk = vec![false; desc.schema.columns.len()];
        for name in &desc.primary_key {
            let index =
                desc.schema.index_of(name).ok_or_else(|| err(format!("primary key names unknown column '{name}'")))?;
            if let Some(flag) = is_pk.get_mut(index) {
                *flag = true;
            }
        }
        let (choice, delete_behavior) = read(desc)?;
        let (kind, functions) = match choice {
            EngineChoice::Default => (MergeKind::Default, Vec::new()),
            EngineChoice::FirstRow => (MergeKind::FirstRow, Vec::new()),
            EngineChoice::Versioned { column } => (MergeKind::Versioned { column }, Vec::new()),
            EngineChoice::Aggregation { functions } => (MergeKind::Aggregation, functions),
        };
        Ok(Self {
            table: desc.name.clone(),
            columns: desc.schema.columns.clone(),
            is_pk,
            kind,
            delete_behavior,
            functions,
        })
    }

    /// The kind of engine.
    pub fn kind(&self) -> MergeKind {
        self.kind
    }

    /// What deletes do.
    pub fn delete_behavior(&self) -> DeleteBehavior {
        self.delete_behavior
    }

    /// The aggregate function of column `column` (aggregation engine, non-key columns only).
    pub fn function(&self, column: usize) -> Option<&AggFunction> {
        self.functions.get(column).and_then(Option::as_ref)
    }

    /// True when an upsert with these targets simply replaces the row (default engine, full
    /// row): the caller may skip reading the old row and calling [`MergeEngine::upsert`].
    pub fn is_last_write_wins_full_row(&self, targets: Option<&[usize]>) -> bool {
        self.kind == MergeKind::Default && self.covers_all(targets)
    }

    /// Checks partial-update target columns once (what [`MergeEngine::upsert`] and
    /// [`MergeEngine::delete`] check on every call): in range, every primary-key column
    /// included, every non-key column nullable, and an engine that allows partial updates.
    pub fn check_targets(&self, targets: Option<&[usize]>) -> Result<()> {
        self.partial_mask(targets).map(|_| ())
    }

    /// An upsert of `new` onto `old` (`None` = the key is absent). `new` has one datum per
    /// column; with `targets` only those columns are written (a partial update) and the other
    /// datums of `new` are not read.
    pub fn upsert(&self, old: Option<&[Datum]>, new: &[Datum], targets: Option<&[usize]>) -> Result<Outcome> {
        let mask = self.partial_mask(targets)?;
        self.check_row(new, mask.as_deref(), "written row")?;
        if let Some(old) = old {
            self.check_width(old, "stored row")?;
        }
        if let MergeKind::Versioned { column } = self.kind {
            if new.get(column).is_none_or(Datum::is_null) {
                let name = self.columns.get(column).map_or("?", |c| c.name.as_str());
                return Err(Error::InvalidWrite {
                    table: self.table.clone(),
                    reason: format!("the version column '{name}' of a versioned table must not be null"),
                });
            }
        }
        let outcome = match (self.kind, old) {
            (MergeKind::FirstRow, Some(_)) => Outcome::Unchanged,
            (MergeKind::Versioned { column }, Some(old)) => self.versioned(old, new, column)?,
            (MergeKind::Default, Some(_)) if mask.as_ref().is_some_and(|m| self.only_key(m)) => Outcome::Unchanged,
            (MergeKind::Aggregation, Some(old)) => self.aggregate(old, new, mask.as_deref())?,
            (_, old) => Outcome::Put(overlay(old, new, mask.as_deref())),
        };
        if let Outcome::Put(row) = &outcome {
            self.check_row(row, None, "merged row")?;
        }
        Ok(outcome)
    }

    /// A delete of the key whose stored row is `old` (`None` = absent). With `targets`, a
    /// partial delete: see the module documentation.
    pub fn delete(&self, old: Option<&[Datum]>, targets: Option<&[usize]>) -> Result<Outcome> {
        let mask = self.partial_mask(targets)?;
        match self.delete_behavior {
            DeleteBehavior::Ignore => return Ok(Outcome::Unchanged),
            DeleteBehavior::Disable => {
                return Err(
                    self.write_error("no deletes ('table.delete.behavior' = 'disable')".into(), "a delete".into())
                )
            }
            DeleteBehavior::Allow => {}
        }
        let Some(old) = old else { return Ok(Outcome::Unchanged) };
        self.check_width(old, "stored row")?;
        let Some(mask) = mask else { return Ok(Outcome::Delete) };
        if old.iter().zip(&mask).all(|(datum, target)| *target || datum.is_null()) {
            return Ok(Outcome::Delete);
        }
        let row: Vec<Datum> = old
            .iter()
            .zip(mask.iter().zip(&self.is_pk))
            .map(|(datum, (target, pk))| if *target && !pk { Datum::Null } else { datum.clone() })
            .collect();
        Ok(if row == old { Outcome::Unchanged } else { Outcome::Put(row) })
    }

    fn versioned(&self, old: &[Datum], new: &[Datum], column: usize) -> Result<Outcome> {
        let ty = self.column_type(column);
        match (version_key(ty, old.get(column)), version_key(ty, new.get(column))) {
            (Some(o), Some(n)) if n >= o => Ok(Outcome::Put(new.to_vec())),
            (Some(_), Some(_)) => Ok(Outcome::Unchanged),
            _ => Err(self.write_error(
                format!("a version in column {column}"),
                format!("{:?} / {:?}", old.get(column), new.get(column)),
            )),
        }
    }

    fn aggregate(&self, old: &[Datum], new: &[Datum], mask: Option<&[bool]>) -> Result<Outcome> {
        let mut row = Vec::with_capacity(old.len());
        for (i, (stored, incoming)) in old.iter().zip(new).enumerate() {
            let target = mask.is_none_or(|m| m.get(i).copied().unwrap_or(false));
            let merged = match self.function(i) {
                Some(function) if target => {
                    let ty = self.column_type(i);
                    function.apply(&ty, stored, incoming).map_err(|reason| {
                        self.write_error(format!("a value of column '{}'", self.column_name(i)), reason)
                    })?
                }
                // Primary-key columns are equal in both rows; non-targets keep the old value.
                _ => stored.clone(),
            };
            row.push(merged);
        }
        Ok(if row == old { Outcome::Unchanged } else { Outcome::Put(row) })
    }

    /// `None` for a full-row write, else one flag per column (true = target).
    fn partial_mask(&self, targets: Option<&[usize]>) -> Result<Option<Vec<bool>>> {
        let Some(targets) = targets else { return Ok(None) };
        let width = self.columns.len();
        let mut mask = vec![false; width];
        for &t in targets {
            match mask.get_mut(t) {
                Some(flag) => *flag = true,
                None => {
                    return Err(self.write_error(format!("target columns below {width}"), format!("target column {t}")))
                }
            }
        }
        if mask.iter().all(|t| *t) {
            return Ok(None);
        }
        if let Some(i) = (0..width).find(|&i| self.is_pk.get(i) == Some(&true) && mask.get(i) == Some(&false)) {
            return Err(self.write_error(
                "target columns that include every primary key column".into(),
                format!("targets {targets:?} without primary key column '{}'", self.column_name(i)),
            ));
        }
        match self.kind {
            MergeKind::FirstRow | MergeKind::Versioned { .. } => {
                let engine = if self.kind == MergeKind::FirstRow { "first_row" } else { "versioned" };
                return Err(self.write_error(
                    format!("full-row writes (the {engine} merge engine has no partial updates)"),
                    format!("targets {targets:?}"),
                ));
            }
            MergeKind::Default | MergeKind::Aggregation => {}
        }
        if let Some(c) = self.columns.iter().zip(&self.is_pk).find_map(|(c, pk)| (!pk && !c.nullable).then_some(c)) {
            return Err(self.write_error(
                "partial updates only on tables whose non-key columns are all nullable".into(),
                format!("NOT NULL column '{}'", c.name),
            ));
        }
        Ok(Some(mask))
    }

    fn covers_all(&self, targets: Option<&[usize]>) -> bool {
        match targets {
            None => true,
            Some(t) => (0..self.columns.len()).all(|i| t.contains(&i)),
        }
    }

    fn only_key(&self, mask: &[bool]) -> bool {
        mask.iter().zip(&self.is_pk).all(|(target, pk)| target == pk)
    }

    fn check_width(&self, row: &[Datum], what: &str) -> Result<()> {
        if row.len() == self.columns.len() {
            return Ok(());
        }
        Err(self.write_error(format!("{} values", self.columns.len()), format!("{} values in the {what}", row.len())))
    }

    /// Checks width, kinds and NOT NULL of the columns `mask` selects (all with `None`).
    fn check_row(&self, row: &[Datum], mask: Option<&[bool]>, what: &str) -> Result<()> {
        self.check_width(row, what)?;
        for (i, (column, datum)) in self.columns.iter().zip(row).enumerate() {
            if mask.is_some_and(|m| m.get(i) != Some(&true)) {
                continue;
            }
            if datum.is_null() && !column.nullable {
                return Err(self.write_error(
                    format!("a value in NOT NULL column '{}'", column.name),
                    format!("NULL in the {what}"),
                ));
            }
            check_datum(&column.data_type, datum).map_err(|reason| {
                self.write_error(
                    format!("{} in column '{}'", column.data_type, column.name),
                    format!("{reason} in the {what}"),
                )
            })?;
        }
        Ok(())
    }

    fn column_type(&self, i: usize) -> DataType {
        self.columns.get(i).map_or(DataType::Boolean, |c| c.data_type)
    }

    fn column_name(&self, i: usize) -> &str {
        self.columns.get(i).map_or("?", |c| c.name.as_str())
    }

    /// A rejected write. Until the error enum has a write variant, reported as a mismatch.
    fn write_error(&self, expected: String, actual: String) -> Error {
        Error::InvalidWrite { table: self.table.clone(), reason: format!("expected {expected}, got {actual}") }
    }
}

/// The new row over the old one: target columns from `new`, the others from `old` (NULL for
/// a new key). A full-row write is `new` itself.
fn overlay(old: Option<&[Datum]>, new: &[Datum], mask: Option<&[bool]>) -> Vec<Datum> {
    let Some(mask) = mask else { return new.to_vec() };
    new.iter()
        .enumerate()
        .map(|(i, datum)| match (mask.get(i), old.and_then(|o| o.get(i))) {
            (Some(true), _) => datum.clone(),
            (_, Some(stored)) => stored.clone(),
            (_, None) => Datum::Null,
        })
        .collect()
}

/// The order of a version, NULL included as Fluss orders it: an INT or BIGINT NULL is the
/// type's minimum, a TIMESTAMP NULL is below every timestamp. `None` for a datum that is no
/// version at all.
fn version_key(ty: DataType, datum: Option<&Datum>) -> Option<(bool, i64)> {
    match (ty, datum?) {
        (_, Datum::Int(v)) => Some((true, *v)),
        (DataType::Int, Datum::Null) => Some((true, i64::from(i32::MIN))),
        (DataType::BigInt, Datum::Null) => Some((true, i64::MIN)),
        (_, Datum::Null) => Some((false, 0)),
        _ => None,
    }
}
