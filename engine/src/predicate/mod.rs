//! Predicates over table columns: parsed from text, pruning by batch statistics, exact filters.
//!
//! - `ast`: the tree ([`Predicate`], [`CompareOp`], [`Literal`]) and [`Predicate::columns`].
//! - `lex` / `parse`: the text syntax ([`Predicate::parse`]); `literal` / `temporal` type
//!   literals against the column (DECIMAL scaling, DATE / TIME / TIMESTAMP text).
//! - `display`: back to text ([`Predicate::display_with`], `Display` by position).
//! - `order`: how values compare, shared by pruning and filtering so they agree.
//! - `prune`: [`Predicate::can_match`] over [`BatchStats`](crate::batch::stats::BatchStats).
//! - `filter` / `kernels`: [`Predicate::filter`], the exact row filter over a `RecordBatch`.

mod ast;
mod display;
mod filter;
mod kernels;
mod lex;
mod literal;
mod order;
mod parse;
mod prune;
mod temporal;

#[cfg(test)]
mod parse_tests;

pub use ast::{CompareOp, Literal, Predicate};
pub use parse::NESTING_MAX;
