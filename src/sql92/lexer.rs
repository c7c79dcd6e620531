//! Tokens of RocketMQ's SQL92 selector (features sheet §1.2), produced one at a time: the
//! parser stops after the longest valid expression and only the token after it must lex.

use super::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Token {
    Ident(String),
    Str(String),
    /// An integer literal: i32 when it fits, else i64 (an `L` suffix changes nothing).
    Int(i64),
    Float(f64),
    Kw(Keyword),
    Op(&'static str),
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Keyword {
    Not,
    And,
    Or,
    Between,
    In,
    True,
    False,
    Null,
    Is,
    Contains,
    StartsWith,
    EndsWith,
}

const KEYWORDS: [(&str, Keyword); 12] = [
    ("NOT", Keyword::Not),
    ("AND", Keyword::And),
    ("OR", Keyword::Or),
    ("BETWEEN", Keyword::Between),
    ("IN", Keyword::In),
    ("TRUE", Keyword::True),
    ("FALSE", Keyword::False),
    ("NULL", Keyword::Null),
    ("IS", Keyword::Is),
    ("CONTAINS", Keyword::Contains),
    ("STARTSWITH", Keyword::StartsWith),
    ("ENDSWITH", Keyword::EndsWith),
];

/// Longest operators first, so `<=` and `<>` win over `<`.
const OPERATORS: [&str; 11] = ["<>", ">=", "<=", "=", ">", "<", "(", ")", ",", "+", "-"];

pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Lexer { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn error(&self, what: &str) -> ParseError {
        ParseError {
            position: self.pos,
            message: what.to_string(),
        }
    }

    /// Skips blanks and comments; `--` comments need their line end.
    fn skip_ignored(&mut self) -> Result<(), ParseError> {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start_matches([' ', '\t', '\n', '\r', '\u{c}']);
            self.pos += rest.len() - trimmed.len();
            if let Some(body) = trimmed.strip_prefix("--") {
                let end = body
                    .find(['\n', '\r'])
                    .ok_or_else(|| self.error("a -- comment must end with a line end"))?;
                self.pos += 2 + end + 1;
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                let end = body
                    .find("*/")
                    .ok_or_else(|| self.error("unterminated /* comment"))?;
                self.pos += 2 + end + 2;
            } else {
                return Ok(());
            }
        }
    }

    pub(super) fn next_token(&mut self) -> Result<(usize, Token), ParseError> {
        self.skip_ignored()?;
        let start = self.pos;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok((start, Token::End));
        };
        let token = if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let len = rest
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_' || ch == '$'))
                .unwrap_or(rest.len());
            let word = rest.get(..len).unwrap_or("");
            self.pos += len;
            match KEYWORDS.iter().find(|(k, _)| k.eq_ignore_ascii_case(word)) {
                Some((_, kw)) => Token::Kw(*kw),
                None => Token::Ident(word.to_string()),
            }
        } else if c.is_ascii_digit()
            || (c == '.'
                && rest
                    .get(1..)
                    .is_some_and(|r| r.starts_with(|d: char| d.is_ascii_digit())))
        {
            self.number()?
        } else if c == '\'' {
            self.string()?
        } else if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            self.pos += op.len();
            Token::Op(op)
        } else {
            return Err(self.error(&format!("unexpected character {c:?}")));
        };
        Ok((start, token))
    }

    /// `'...'` with `''` for a quote; may span lines; no backslash escapes.
    fn string(&mut self) -> Result<Token, ParseError> {
        let mut out = String::new();
        let mut rest = self.rest().get(1..).unwrap_or("");
        let mut used = 1;
        loop {
            let Some(q) = rest.find('\'') else {
                return Err(self.error("unterminated string literal"));
            };
            out.push_str(rest.get(..q).unwrap_or(""));
            used += q + 1;
            rest = rest.get(q + 1..).unwrap_or("");
            if let Some(after) = rest.strip_prefix('\'') {
                out.push('\'');
                used += 1;
                rest = after;
            } else {
                self.pos += used;
                return Ok(Token::Str(out));
            }
        }
    }

    /// `0` or `[1-9][0-9]*` with an optional `l`/`L`; floats `d+.d*[e]`, `.d+[e]`, `d+e`.
    fn number(&mut self) -> Result<Token, ParseError> {
        let bytes = self.rest().as_bytes();
        let digits_from = |i: usize| {
            bytes
                .get(i..)
                .map_or(0, |b| b.iter().take_while(|d| d.is_ascii_digit()).count())
        };
        let int_len = digits_from(0);
        // Exponent `e[+-]d+` at `i`, if one is there: its length.
        let exponent_at = |i: usize| -> usize {
            if !matches!(bytes.get(i), Some(b'e' | b'E')) {
                return 0;
            }
            let sign = usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
            let d = digits_from(i + 1 + sign);
            if d == 0 {
                0
            } else {
                1 + sign + d
            }
        };
        let float_len = if bytes.get(int_len) == Some(&b'.') {
            let frac = digits_from(int_len + 1);
            let end = int_len + 1 + frac;
            Some(end + exponent_at(end))
        } else {
            let e = exponent_at(int_len);
            (e > 0).then_some(int_len + e)
        };
        if let Some(len) = float_len {
            let text = self.rest().get(..len).unwrap_or("");
            let v: f64 = text
                .parse()
                .map_err(|_| self.error(&format!("invalid number {text}")))?;
            // Java refuses literals below Double.MIN_VALUE, zero included.
            if v < f64::from_bits(1) {
                return Err(self.error(&format!("floating point literal {text} is too small")));
            }
            self.pos += len;
            return Ok(Token::Float(v));
        }
        // A leading 0 is the literal 0 on its own (`010` is `0` then `10`).
        let len = if bytes.first() == Some(&b'0') {
            1
        } else {
            int_len
        };
        let text = self.rest().get(..len).unwrap_or("");
        let v: i64 = text
            .parse()
            .map_err(|_| self.error(&format!("integer literal {text} is out of range")))?;
        self.pos += len;
        if matches!(bytes.get(len), Some(b'l' | b'L')) {
            self.pos += 1;
        }
        Ok(Token::Int(v))
    }
}
