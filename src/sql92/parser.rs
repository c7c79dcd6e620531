//! Recursive descent over RocketMQ's selector grammar (features sheet §1.3), with its
//! parse-time checks (§1.4). Precedence, lowest first: OR, AND, `=`/`<>`/IS, the comparisons
//! (`<`, BETWEEN, IN, CONTAINS...), unary `+ - NOT`, primaries.

use super::lexer::{Keyword as K, Lexer, Token};
use super::{Expr, Literal, ParseError, StrOp};

/// Deeper nesting is refused instead of recursing (a hostile expression must not overflow
/// the stack).
const MAX_DEPTH: usize = 200;

pub(super) struct Parser<'a> {
    lexer: Lexer<'a>,
    /// Up to two tokens looked at but not consumed (`NOT` needs the one after it).
    ahead: Vec<(usize, Token)>,
    depth: usize,
}

fn err(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Parser {
            lexer: Lexer::new(text),
            ahead: Vec::new(),
            depth: 0,
        }
    }

    fn fill(&mut self, n: usize) -> Result<(), ParseError> {
        while self.ahead.len() < n {
            let t = self.lexer.next_token()?;
            self.ahead.push(t);
        }
        Ok(())
    }

    fn peek(&mut self) -> Result<&Token, ParseError> {
        self.fill(1)?;
        Ok(self.ahead.first().map_or(&Token::End, |(_, t)| t))
    }

    fn peek2(&mut self) -> Result<&Token, ParseError> {
        self.fill(2)?;
        Ok(self.ahead.get(1).map_or(&Token::End, |(_, t)| t))
    }

    fn position(&mut self) -> usize {
        let _ = self.fill(1);
        self.ahead.first().map_or(0, |(p, _)| *p)
    }

    fn bump(&mut self) -> Result<(usize, Token), ParseError> {
        self.fill(1)?;
        Ok(if self.ahead.is_empty() {
            (0, Token::End)
        } else {
            self.ahead.remove(0)
        })
    }

    fn eat_kw(&mut self, kw: K) -> Result<bool, ParseError> {
        if *self.peek()? == Token::Kw(kw) {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn eat_op(&mut self, op: &str) -> Result<bool, ParseError> {
        if matches!(self.peek()?, Token::Op(o) if *o == op) {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect_op(&mut self, op: &str) -> Result<(), ParseError> {
        let at = self.position();
        if !self.eat_op(op)? {
            return Err(err(at, format!("expected '{op}'")));
        }
        Ok(())
    }

    /// The whole selector: the longest valid expression; what follows it is ignored once
    /// its first token lexes (as RocketMQ's generated parser does).
    pub(super) fn selector(&mut self) -> Result<Expr, ParseError> {
        let at = self.position();
        let e = self.or()?;
        self.peek()?;
        as_boolean(e, at)
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let at = self.position();
            return Err(err(at, "expression nested too deeply"));
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let at = self.position();
        let mut left = self.and()?;
        while self.eat_kw(K::Or)? {
            let rat = self.position();
            let right = self.and()?;
            left = Expr::Or(
                Box::new(as_boolean(left, at)?),
                Box::new(as_boolean(right, rat)?),
            );
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let at = self.position();
        let mut left = self.equality()?;
        while self.eat_kw(K::And)? {
            let rat = self.position();
            let right = self.equality()?;
            left = Expr::And(
                Box::new(as_boolean(left, at)?),
                Box::new(as_boolean(right, rat)?),
            );
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.comparison()?;
        loop {
            let at = self.position();
            let negate = if self.eat_op("=")? {
                false
            } else if self.eat_op("<>")? {
                true
            } else if *self.peek()? == Token::Kw(K::Is) {
                self.bump()?;
                let not = self.eat_kw(K::Not)?;
                let at = self.position();
                if !self.eat_kw(K::Null)? {
                    return Err(err(at, "expected NULL after IS"));
                }
                left = Expr::IsNull(Box::new(left), not);
                continue;
            } else {
                return Ok(left);
            };
            let right = self.comparison()?;
            check_equal_operands(&left, &right, at)?;
            let eq = Expr::Eq(Box::new(left), Box::new(right));
            left = if negate { Expr::Not(Box::new(eq)) } else { eq };
        }
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            let at = self.position();
            let op = match self.peek()? {
                Token::Op(o @ (">" | ">=" | "<" | "<=")) => Some(*o),
                _ => None,
            };
            if let Some(op) = op {
                self.bump()?;
                let right = self.unary()?;
                left = compare(op, left, right, at)?;
                continue;
            }
            let not = *self.peek()? == Token::Kw(K::Not)
                && matches!(
                    self.peek2()?,
                    Token::Kw(K::Between | K::In | K::Contains | K::StartsWith | K::EndsWith)
                );
            if not {
                self.bump()?;
            }
            let next = match self.peek()? {
                Token::Kw(k @ (K::Between | K::In | K::Contains | K::StartsWith | K::EndsWith)) => {
                    *k
                }
                _ => return Ok(left),
            };
            self.bump()?;
            left = match next {
                K::Between => {
                    let low = self.unary()?;
                    let and_at = self.position();
                    if !self.eat_kw(K::And)? {
                        return Err(err(and_at, "expected AND in BETWEEN"));
                    }
                    let high = self.unary()?;
                    between(left, low, high, not, at)?
                }
                K::In => self.in_list(left, not, at)?,
                op => {
                    let s = self.string_literal()?;
                    let op = match op {
                        K::Contains => StrOp::Contains,
                        K::StartsWith => StrOp::StartsWith,
                        _ => StrOp::EndsWith,
                    };
                    Expr::StrOp(op, not, Box::new(left), s)
                }
            };
        }
    }

    fn string_literal(&mut self) -> Result<String, ParseError> {
        let (at, t) = self.bump()?;
        match t {
            Token::Str(s) => Ok(s),
            _ => Err(err(at, "expected a string literal")),
        }
    }

    fn in_list(&mut self, left: Expr, not: bool, at: usize) -> Result<Expr, ParseError> {
        let Expr::Prop(name) = left else {
            return Err(err(at, "IN needs a property on its left"));
        };
        self.expect_op("(")?;
        let mut items = vec![self.string_literal()?];
        while self.eat_op(",")? {
            items.push(self.string_literal()?);
        }
        self.expect_op(")")?;
        Ok(Expr::In(name, items, not))
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        self.nested(|p| {
            let at = p.position();
            if p.eat_op("+")? {
                return p.unary();
            }
            if p.eat_op("-")? {
                return Ok(match p.unary()? {
                    Expr::Lit(Literal::Int(v)) => Expr::Lit(Literal::Int(-v)),
                    Expr::Lit(Literal::Float(v)) => Expr::Lit(Literal::Float(-v)),
                    other => Expr::Neg(Box::new(other)),
                });
            }
            if p.eat_kw(K::Not)? {
                let inner = p.unary()?;
                return Ok(Expr::Not(Box::new(as_boolean(inner, at)?)));
            }
            p.primary()
        })
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let (at, t) = self.bump()?;
        Ok(match t {
            Token::Ident(name) => Expr::Prop(name),
            Token::Str(s) => Expr::Lit(Literal::Str(s)),
            Token::Int(v) => Expr::Lit(Literal::Int(v)),
            Token::Float(v) => Expr::Lit(Literal::Float(v)),
            Token::Kw(K::True) => Expr::Lit(Literal::Bool(true)),
            Token::Kw(K::False) => Expr::Lit(Literal::Bool(false)),
            Token::Kw(K::Null) => Expr::Lit(Literal::Null),
            Token::Op("(") => {
                let e = self.nested(|p| p.or())?;
                self.expect_op(")")?;
                e
            }
            Token::End => return Err(err(at, "unexpected end of expression")),
            other => return Err(err(at, format!("unexpected {}", describe(&other)))),
        })
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Ident(s) => format!("identifier {s}"),
        Token::Str(s) => format!("string '{s}'"),
        Token::Int(v) => format!("number {v}"),
        Token::Float(v) => format!("number {v}"),
        Token::Kw(k) => format!("keyword {k:?}").to_uppercase(),
        Token::Op(o) => format!("'{o}'"),
        Token::End => "end of expression".into(),
    }
}

/// Where a boolean is needed (AND, OR, NOT, the whole selector): a boolean expression as it
/// is, a property cast to boolean, anything else refused.
fn as_boolean(e: Expr, at: usize) -> Result<Expr, ParseError> {
    if e.is_boolean() {
        Ok(e)
    } else if matches!(e, Expr::Prop(_)) {
        Ok(Expr::BoolCast(Box::new(e)))
    } else {
        Err(err(at, "expression will not result in a boolean value"))
    }
}

/// `<`, `<=`, `>`, `>=` take only numbers and properties (Java's checkLessThanOperand).
fn check_ordered_operand(e: &Expr, at: usize) -> Result<(), ParseError> {
    match e {
        Expr::Lit(Literal::Int(_) | Literal::Float(_)) => Ok(()),
        Expr::Lit(_) => Err(err(
            at,
            "a string, boolean or NULL literal cannot be compared with <, <=, > or >=",
        )),
        e if e.is_boolean() => Err(err(
            at,
            "a boolean expression cannot be compared with <, <=, > or >=",
        )),
        _ => Ok(()),
    }
}

fn compare(op: &'static str, left: Expr, right: Expr, at: usize) -> Result<Expr, ParseError> {
    check_ordered_operand(&left, at)?;
    check_ordered_operand(&right, at)?;
    Ok(Expr::Cmp(op, Box::new(left), Box::new(right)))
}

/// `=`/`<>`: no NULL literal (use IS NULL); a boolean literal only against a boolean literal.
fn check_equal_operands(left: &Expr, right: &Expr, at: usize) -> Result<(), ParseError> {
    if matches!(left, Expr::Lit(Literal::Null)) || matches!(right, Expr::Lit(Literal::Null)) {
        return Err(err(
            at,
            "= and <> cannot take NULL: use IS NULL / IS NOT NULL",
        ));
    }
    if let (Expr::Lit(Literal::Bool(_)), Expr::Lit(r)) = (left, right) {
        if !matches!(r, Literal::Bool(_)) {
            return Err(err(
                at,
                "a boolean literal cannot be compared with a non-boolean literal",
            ));
        }
    }
    Ok(())
}

fn between(value: Expr, low: Expr, high: Expr, not: bool, at: usize) -> Result<Expr, ParseError> {
    let number = |e: &Expr| match e {
        Expr::Lit(Literal::Int(v)) => Some(*v as f64),
        Expr::Lit(Literal::Float(v)) => Some(*v),
        _ => None,
    };
    if let (Some(l), Some(h)) = (number(&low), number(&high)) {
        if l > h {
            return Err(err(at, "BETWEEN's lower bound is above its upper bound"));
        }
    }
    let (a, b) = if not { ("<", ">") } else { (">=", "<=") };
    let first = compare(a, value.clone(), low, at)?;
    let second = compare(b, value, high, at)?;
    Ok(if not {
        Expr::Or(Box::new(first), Box::new(second))
    } else {
        Expr::And(Box::new(first), Box::new(second))
    })
}
