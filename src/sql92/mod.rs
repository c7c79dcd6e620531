//! RocketMQ's SQL92 property filter (`expressionType = "SQL92"`), as the features sheet §1
//! describes it: the grammar, parse-time refusals, and Java's null and conversion semantics.
//! An expression is compiled once per subscription version and evaluated against a stored
//! message's properties; a message matches only when the result is TRUE (FALSE, unknown and
//! evaluation errors do not match).
//!
//! FerrumQ accepts the 5.1.3+ string operators (CONTAINS, STARTSWITH, ENDSWITH) for every
//! client generation: a 4.9.8 broker parses `region STARTSWITH 'hz'` as `region` and ignores
//! the rest, which silently matches nothing.

mod eval;
mod lexer;
mod parser;

use std::fmt;
use std::sync::Arc;

use dashmap::DashMap;

pub use eval::EvalError;

/// A compiled selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    expr: Expr,
}

/// Why an expression does not compile: RocketMQ answers SUBSCRIPTION_PARSE_FAILED with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the expression.
    pub position: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

impl std::error::Error for ParseError {}

impl Selector {
    pub fn compile(expression: &str) -> Result<Self, ParseError> {
        if expression.trim().is_empty() {
            return Err(ParseError {
                position: 0,
                message: "empty SQL92 expression".into(),
            });
        }
        let expr = parser::Parser::new(expression).selector()?;
        Ok(Selector { expr })
    }

    /// The three-valued result (`None` = unknown), or the evaluation error.
    pub fn evaluate<'p>(
        &self,
        property: &dyn Fn(&str) -> Option<&'p str>,
    ) -> Result<Option<bool>, EvalError> {
        // The property values and the expression's literals meet at the shorter lifetime.
        eval::boolean(&self.expr, &|name| property(name))
    }

    /// Whether a message with these properties is delivered: only a TRUE result.
    pub fn matches<'p>(&self, property: &dyn Fn(&str) -> Option<&'p str>) -> bool {
        matches!(self.evaluate(property), Ok(Some(true)))
    }

    /// `matches` against stored properties text (`k\u{1}v\u{2}...`).
    pub fn matches_properties(&self, properties: &str) -> bool {
        self.matches(&|name| ferrumq_store::message::find_property(properties, name))
    }
}

/// Compiled selectors by expression text: a consumer that sends its expression with every
/// pull (C++, lite pull) gets it compiled once, not per pull. Bounded: emptied when full.
#[derive(Default)]
pub struct SelectorCache {
    map: DashMap<String, Arc<Selector>>,
}

impl SelectorCache {
    const MAX_ENTRIES: usize = 4096;

    pub fn compile(&self, expression: &str) -> Result<Arc<Selector>, ParseError> {
        if let Some(s) = self.map.get(expression) {
            return Ok(s.clone());
        }
        let s = Arc::new(Selector::compile(expression)?);
        if self.map.len() >= Self::MAX_ENTRIES {
            self.map.clear();
        }
        self.map.insert(expression.to_string(), s.clone());
        Ok(s)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Null,
    Bool(bool),
    /// Java Integer when it fits in i32, else Long.
    Int(i64),
    Float(f64),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrOp {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Lit(Literal),
    Prop(String),
    /// A property where a boolean is needed: NULL if absent, else FALSE.
    BoolCast(Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    Cmp(&'static str, Box<Expr>, Box<Expr>),
    /// `IS NULL`, or `IS NOT NULL` when the flag is set.
    IsNull(Box<Expr>, bool),
    /// `prop [NOT] IN ('a', ...)`
    In(String, Vec<String>, bool),
    StrOp(StrOp, bool, Box<Expr>, String),
}

impl Expr {
    /// Java's BooleanExpression: what AND, OR and NOT accept without a cast.
    fn is_boolean(&self) -> bool {
        !matches!(
            self,
            Expr::Prop(_)
                | Expr::Neg(_)
                | Expr::Lit(Literal::Null | Literal::Int(_) | Literal::Float(_) | Literal::Str(_))
        )
    }
}

#[cfg(test)]
mod tests;
