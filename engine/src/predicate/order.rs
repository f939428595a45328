//! How values order, shared by the row filter and the statistics pruner so they agree.
//!
//! Integers order numerically, strings by their UTF-8 bytes (code point order, as Fluss's
//! `BinaryString` does), `false < true`, and floats like Java's `Double.compare` (Fluss
//! evaluates predicates with `compareTo`): NaN equals NaN and is above +infinity, and
//! -0.0 is below 0.0. Float statistics are assumed to be min/max under that same order.

use std::cmp::Ordering;

use super::ast::Literal;
use crate::batch::stats::Scalar;

/// Java's `Double.compare`: a total order with every NaN equal and greatest.
pub(super) fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.total_cmp(&b),
    }
}

/// Orders a statistics bound against a literal; `None` when their kinds do not compare
/// (then nothing can be concluded) or the literal is NULL.
pub(super) fn scalar_cmp(scalar: &Scalar, literal: &Literal) -> Option<Ordering> {
    match (scalar, literal) {
        (Scalar::Int(s), Literal::Int(l)) => Some(s.cmp(l)),
        (Scalar::Float(s), Literal::Float(l)) => Some(float_cmp(*s, *l)),
        (Scalar::Float(s), Literal::Int(l)) => Some(float_cmp(*s, *l as f64)),
        (Scalar::Str(s), Literal::Str(l)) => Some(s.as_str().cmp(l.as_str())),
        (Scalar::Bool(s), Literal::Bool(l)) => Some(s.cmp(l)),
        _ => None,
    }
}

/// Orders two statistics bounds of the same kind (`None` for mixed kinds).
pub(super) fn scalars_cmp(a: &Scalar, b: &Scalar) -> Option<Ordering> {
    match (a, b) {
        (Scalar::Int(a), Scalar::Int(b)) => Some(a.cmp(b)),
        (Scalar::Float(a), Scalar::Float(b)) => Some(float_cmp(*a, *b)),
        (Scalar::Str(a), Scalar::Str(b)) => Some(a.cmp(b)),
        (Scalar::Bool(a), Scalar::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn floats_order_like_java_double_compare() {
        assert_eq!(float_cmp(f64::NAN, f64::NAN), Equal);
        assert_eq!(float_cmp(f64::NAN, f64::INFINITY), Greater);
        assert_eq!(float_cmp(-f64::NAN, f64::INFINITY), Greater);
        assert_eq!(float_cmp(-0.0, 0.0), Less);
        assert_eq!(float_cmp(1.5, 1.5), Equal);
        assert_eq!(float_cmp(f64::NEG_INFINITY, -1e308), Less);
    }

    #[test]
    fn scalars_compare_only_with_their_kind() {
        assert_eq!(scalar_cmp(&Scalar::Int(3), &Literal::Int(5)), Some(Less));
        assert_eq!(scalar_cmp(&Scalar::Float(3.0), &Literal::Int(3)), Some(Equal));
        assert_eq!(scalar_cmp(&Scalar::Str("b".into()), &Literal::Str("a".into())), Some(Greater));
        assert_eq!(scalar_cmp(&Scalar::Bool(false), &Literal::Bool(true)), Some(Less));
        assert_eq!(scalar_cmp(&Scalar::Int(3), &Literal::Str("3".into())), None);
        assert_eq!(scalar_cmp(&Scalar::Int(3), &Literal::Null), None);
        assert_eq!(scalars_cmp(&Scalar::Int(3), &Scalar::Float(3.0)), None);
    }

    #[test]
    fn strings_order_by_code_point() {
        // U+FF61 is below U+1F600 in code points (and UTF-8 bytes), above it in UTF-16 units.
        let low = Scalar::Str("\u{ff61}".into());
        assert_eq!(scalar_cmp(&low, &Literal::Str("\u{1f600}".into())), Some(Less));
    }
}
