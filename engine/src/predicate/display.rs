//! Printing predicates back in the text syntax: with a schema by column name, with each
//! literal spelled for its column type so [`Predicate::parse`] reads it back to the same
//! predicate; without one (`Display`) by position as `#3` (for logs only).

use std::fmt;

use super::ast::{Literal, Predicate};
use super::lex::is_bare_name;
use super::temporal;
use crate::schema::{DataType, Schema};

impl Predicate {
    /// Displays the predicate in the text syntax with column names from `schema`; parsing
    /// the output with the same schema gives back an equal predicate (for any predicate
    /// [`Predicate::parse`] produced).
    pub fn display_with<'a>(&'a self, schema: &'a Schema) -> impl fmt::Display + 'a {
        Printer { predicate: self, schema: Some(schema) }
    }
}

impl fmt::Display for Predicate {
    /// The text syntax with columns by position (`#0 > 5`); use
    /// [`Predicate::display_with`] for text that parses back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Printer { predicate: self, schema: None }.fmt(f)
    }
}

impl fmt::Display for Literal {
    /// The literal as written for its kind (integers as numbers, strings quoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("NULL"),
            Self::Bool(true) => f.write_str("TRUE"),
            Self::Bool(false) => f.write_str("FALSE"),
            Self::Int(value) => write!(f, "{value}"),
            Self::Float(value) => write!(f, "{value:?}"),
            Self::Str(text) => write!(f, "'{}'", text.replace('\'', "''")),
        }
    }
}

struct Printer<'a> {
    predicate: &'a Predicate,
    schema: Option<&'a Schema>,
}

impl fmt::Display for Printer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(self.predicate, f)
    }
}

impl Printer<'_> {
    fn write(&self, predicate: &Predicate, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match predicate {
            Predicate::Compare { column, op, value } => {
                self.column(*column, f)?;
                write!(f, " {} ", op.symbol())?;
                self.literal(*column, value, f)
            }
            Predicate::IsNull { column } => {
                self.column(*column, f)?;
                f.write_str(" IS NULL")
            }
            Predicate::IsNotNull { column } => {
                self.column(*column, f)?;
                f.write_str(" IS NOT NULL")
            }
            Predicate::In { column, values, negated } => self.in_list(*column, values, *negated, f),
            Predicate::And(children) => self.junction(children, " AND ", "TRUE", f),
            Predicate::Or(children) => self.junction(children, " OR ", "FALSE", f),
            Predicate::Not(child) => {
                f.write_str("NOT ")?;
                self.child(child, f)
            }
        }
    }

    /// A child of AND / OR / NOT: parenthesized when it is an AND or OR itself, which keeps
    /// both precedence and the tree's shape.
    fn child(&self, child: &Predicate, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if matches!(child, Predicate::And(_) | Predicate::Or(_)) {
            f.write_str("(")?;
            self.write(child, f)?;
            f.write_str(")")
        } else {
            self.write(child, f)
        }
    }

    /// The children joined by `separator`; `empty` (not parseable) for no children.
    fn junction(
        &self,
        children: &[Predicate],
        separator: &str,
        empty: &str,
        f: &mut fmt::Formatter<'_>,
    ) -> fmt::Result {
        if children.is_empty() {
            return f.write_str(empty);
        }
        for (i, child) in children.iter().enumerate() {
            if i > 0 {
                f.write_str(separator)?;
            }
            self.child(child, f)?;
        }
        Ok(())
    }

    fn in_list(&self, column: usize, values: &[Literal], negated: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.column(column, f)?;
        f.write_str(if negated { " NOT IN (" } else { " IN (" })?;
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            self.literal(column, value, f)?;
        }
        f.write_str(")")
    }

    fn column(&self, column: usize, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.schema.and_then(|s| s.columns.get(column)) {
            Some(c) if is_bare_name(&c.name) => f.write_str(&c.name),
            Some(c) => write!(f, "\"{}\"", c.name.replace('"', "\"\"")),
            None => write!(f, "#{column}"),
        }
    }

    fn literal(&self, column: usize, value: &Literal, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let data_type = self.schema.and_then(|s| s.columns.get(column)).map(|c| c.data_type);
        match (data_type, value) {
            (Some(DataType::Decimal { scale, .. }), Literal::Int(unscaled)) => {
                f.write_str(&format_decimal(*unscaled, scale))
            }
            (Some(DataType::Date), Literal::Int(days)) => {
                write!(f, "'{}'", temporal::format_date(*days))
            }
            (Some(DataType::Time { .. }), Literal::Int(millis)) => {
                write!(f, "'{}'", temporal::format_time(*millis))
            }
            (Some(DataType::Timestamp { .. } | DataType::TimestampLtz { .. }), Literal::Int(millis)) => {
                match temporal::format_timestamp(*millis) {
                    Some(text) => write!(f, "'{text}'"),
                    None => write!(f, "{millis}"),
                }
            }
            _ => write!(f, "{value}"),
        }
    }
}

/// An unscaled decimal as a number with `scale` fractional digits (1234, 2 -> `12.34`).
fn format_decimal(unscaled: i64, scale: u8) -> String {
    let digits = unscaled.unsigned_abs().to_string();
    let scale = usize::from(scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    if scale == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predicate::CompareOp;

    #[test]
    fn decimals_print_with_their_scale() {
        assert_eq!(format_decimal(1234, 2), "12.34");
        assert_eq!(format_decimal(-5, 2), "-0.05");
        assert_eq!(format_decimal(0, 3), "0.000");
        assert_eq!(format_decimal(42, 0), "42");
        assert_eq!(format_decimal(i64::MIN, 18), "-9.223372036854775808");
    }

    #[test]
    fn prints_by_position_without_a_schema() {
        let p = Predicate::Or(vec![
            Predicate::And(vec![
                Predicate::Compare { column: 0, op: CompareOp::GtEq, value: Literal::Float(1.0) },
                Predicate::In { column: 2, values: vec![Literal::Str("it's".into()), Literal::Null], negated: true },
            ]),
            Predicate::Not(Box::new(Predicate::IsNull { column: 1 })),
            Predicate::And(Vec::new()),
        ]);
        assert_eq!(p.to_string(), "(#0 >= 1.0 AND #2 NOT IN ('it''s', NULL)) OR NOT #1 IS NULL OR (TRUE)");
    }
}
