//! Evaluation with Java's semantics (features sheet §1.5): every property is a string,
//! converted by the other operand's type with `Integer/Long/Double/Boolean.valueOf`; NULL
//! propagates; AND and OR short-circuit left to right; a failed conversion is an error that
//! aborts the whole expression.

use std::cmp::Ordering;
use std::fmt;

use super::{Expr, Literal, StrOp};

/// An evaluation error (a Java exception): the message does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError(pub String);

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EvalError {}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Val<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Long(i64),
    Double(f64),
    Str(&'a str),
}

type Property<'p, 'a> = &'p dyn Fn(&str) -> Option<&'a str>;

fn error(msg: impl Into<String>) -> EvalError {
    EvalError(msg.into())
}

/// The expression's boolean result (`None`: unknown).
pub(super) fn boolean<'a>(e: &'a Expr, p: Property<'_, 'a>) -> Result<Option<bool>, EvalError> {
    match value(e, p)? {
        Val::Null => Ok(None),
        Val::Bool(b) => Ok(Some(b)),
        other => Err(error(format!("{other:?} is not a boolean"))),
    }
}

fn literal(l: &Literal) -> Val<'_> {
    match l {
        Literal::Null => Val::Null,
        Literal::Bool(b) => Val::Bool(*b),
        Literal::Int(v) => i32::try_from(*v).map_or(Val::Long(*v), Val::Int),
        Literal::Float(v) => Val::Double(*v),
        Literal::Str(s) => Val::Str(s),
    }
}

fn value<'a>(e: &'a Expr, p: Property<'_, 'a>) -> Result<Val<'a>, EvalError> {
    Ok(match e {
        Expr::Lit(l) => literal(l),
        Expr::Prop(name) => p(name).map_or(Val::Null, Val::Str),
        Expr::BoolCast(inner) => match value(inner, p)? {
            Val::Null => Val::Null,
            Val::Bool(b) => Val::Bool(b),
            _ => Val::Bool(false),
        },
        Expr::Not(inner) => match boolean(inner, p)? {
            None => Val::Null,
            Some(b) => Val::Bool(!b),
        },
        Expr::Neg(inner) => match value(inner, p)? {
            Val::Int(v) => Val::Int(v.checked_neg().ok_or_else(|| error("integer overflow"))?),
            Val::Long(v) => Val::Long(v.checked_neg().ok_or_else(|| error("long overflow"))?),
            Val::Double(v) => Val::Double(-v),
            _ => Val::Null,
        },
        Expr::And(l, r) => {
            let lv = boolean(l, p)?;
            if lv == Some(false) {
                return Ok(Val::Bool(false));
            }
            match (lv, boolean(r, p)?) {
                (_, Some(false)) => Val::Bool(false),
                (None, _) | (_, None) => Val::Null,
                _ => Val::Bool(true),
            }
        }
        Expr::Or(l, r) => {
            let lv = boolean(l, p)?;
            if lv == Some(true) {
                return Ok(Val::Bool(true));
            }
            match (lv, boolean(r, p)?) {
                (_, Some(true)) => Val::Bool(true),
                (None, _) | (_, None) => Val::Null,
                _ => Val::Bool(false),
            }
        }
        Expr::Eq(l, r) => equal(value(l, p)?, value(r, p)?)?,
        Expr::Cmp(op, l, r) => {
            let lv = value(l, p)?;
            if lv == Val::Null {
                return Ok(Val::Null);
            }
            let rv = value(r, p)?;
            if rv == Val::Null {
                return Ok(Val::Null);
            }
            // Two strings (two properties) compare as numbers.
            let (lv, rv) = match (lv, rv) {
                (Val::Str(a), Val::Str(b)) => {
                    (Val::Double(parse_double(a)?), Val::Double(parse_double(b)?))
                }
                pair => pair,
            };
            match ordering(lv, rv)? {
                None => Val::Bool(false),
                Some(o) => Val::Bool(match *op {
                    ">" => o == Ordering::Greater,
                    ">=" => o != Ordering::Less,
                    "<" => o == Ordering::Less,
                    _ => o != Ordering::Greater,
                }),
            }
        }
        Expr::IsNull(inner, not) => Val::Bool((value(inner, p)? == Val::Null) != *not),
        Expr::In(name, items, not) => match p(name) {
            None => Val::Null,
            Some(v) => Val::Bool(items.iter().any(|i| i == v) != *not),
        },
        Expr::StrOp(op, not, inner, lit) => match value(inner, p)? {
            Val::Str(s) if !lit.is_empty() => {
                let hit = match op {
                    StrOp::Contains => s.contains(lit.as_str()),
                    StrOp::StartsWith => s.starts_with(lit.as_str()),
                    StrOp::EndsWith => s.ends_with(lit.as_str()),
                };
                Val::Bool(hit != *not)
            }
            _ => Val::Bool(false),
        },
    })
}

/// Java's `=`: NULL on the left only is unknown, on the right only FALSE, both TRUE.
fn equal<'a>(lv: Val<'a>, rv: Val<'a>) -> Result<Val<'a>, EvalError> {
    Ok(match (lv, rv) {
        (Val::Null, Val::Null) => Val::Bool(true),
        (Val::Null, _) => Val::Null,
        (_, Val::Null) => Val::Bool(false),
        _ => Val::Bool(ordering(lv, rv)? == Some(Ordering::Equal)),
    })
}

/// Java's `compare`: converts to a common type by the other side's class; `None` when the
/// types do not compare (the comparison is FALSE), an error when a string does not parse.
fn ordering(lv: Val<'_>, rv: Val<'_>) -> Result<Option<Ordering>, EvalError> {
    use Val::*;
    let (lv, rv) = match (lv, rv) {
        // Java casts the Boolean itself to String here: ClassCastException.
        (Bool(_), Str(_)) => return Err(error("a boolean cannot be compared with a string")),
        (Int(a), Long(_)) => (Long(i64::from(a)), rv),
        (Int(a), Double(_)) => (Double(f64::from(a)), rv),
        (Int(_), Str(s)) => (lv, Int(parse_int(s)?)),
        (Long(_), Int(b)) => (lv, Long(i64::from(b))),
        (Long(a), Double(_)) => (Double(a as f64), rv),
        (Long(_), Str(s)) => (lv, Long(parse_long(s)?)),
        (Double(_), Int(b)) => (lv, Double(f64::from(b))),
        (Double(_), Long(b)) => (lv, Double(b as f64)),
        (Double(_), Str(s)) => (lv, Double(parse_double(s)?)),
        (Str(s), Bool(_)) => (Bool(s.eq_ignore_ascii_case("true")), rv),
        (Str(s), Int(_)) => (Int(parse_int(s)?), rv),
        (Str(s), Long(_)) => (Long(parse_long(s)?), rv),
        (Str(s), Double(_)) => (Double(parse_double(s)?), rv),
        pair => pair,
    };
    Ok(match (lv, rv) {
        (Bool(a), Bool(b)) => Some(a.cmp(&b)),
        (Int(a), Int(b)) => Some(a.cmp(&b)),
        (Long(a), Long(b)) => Some(a.cmp(&b)),
        (Double(a), Double(b)) => Some(a.total_cmp(&b)),
        (Str(a), Str(b)) => Some(a.cmp(b)),
        _ => None,
    })
}

fn not_a(kind: &str, s: &str) -> EvalError {
    error(format!("{s:?} is not {kind}"))
}

/// `Integer.valueOf`: optional sign, digits, nothing else (no blanks, no fraction).
fn parse_int(s: &str) -> Result<i32, EvalError> {
    s.parse().map_err(|_| not_a("an Integer", s))
}

fn parse_long(s: &str) -> Result<i64, EvalError> {
    s.parse().map_err(|_| not_a("a Long", s))
}

/// `Double.valueOf`: trimmed, an optional d/f suffix, NaN and Infinity spelled as Java does.
fn parse_double(s: &str) -> Result<f64, EvalError> {
    let t = s.trim();
    let t = t.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(t);
    match t {
        "NaN" | "+NaN" | "-NaN" => return Ok(f64::NAN),
        "Infinity" | "+Infinity" => return Ok(f64::INFINITY),
        "-Infinity" => return Ok(f64::NEG_INFINITY),
        _ => {}
    }
    if t.bytes()
        .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E')
    {
        return Err(not_a("a Double", s));
    }
    t.parse().map_err(|_| not_a("a Double", s))
}
