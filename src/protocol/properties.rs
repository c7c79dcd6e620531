//! Java `.properties` text (config files, UPDATE/GET_*_CONFIG bodies). Shared by the
//! NameServer and the broker.
//!
//! Follows `java.util.Properties.load`: `#`/`!` comments, `=`, `:` or blank as separator,
//! backslash line continuation and escapes. Values are trimmed at the end too (Java keeps
//! trailing blanks, which then break RocketMQ's number parsing; trimming is friendlier).

/// Parses properties text into `(key, value)` pairs in file order; later duplicates win
/// when the caller collects them into a map.
pub fn parse_properties(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(first) = lines.next() {
        let mut logical = first.trim_start().to_owned();
        if logical.is_empty() || logical.starts_with('#') || logical.starts_with('!') {
            continue;
        }
        // An odd number of trailing backslashes continues the line.
        while ends_with_odd_backslashes(&logical) {
            logical.pop();
            match lines.next() {
                Some(next) => logical.push_str(next.trim_start()),
                None => break,
            }
        }
        let (key, value) = split_key_value(&logical);
        out.push((unescape(&key), unescape(value.trim_end())));
    }
    out
}

fn ends_with_odd_backslashes(s: &str) -> bool {
    s.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

fn split_key_value(line: &str) -> (String, &str) {
    let mut key = String::new();
    let mut chars = line.char_indices();
    let mut rest_at = line.len();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                key.push('\\');
                if let Some((_, n)) = chars.next() {
                    key.push(n);
                }
            }
            '=' | ':' => {
                rest_at = i + 1;
                break;
            }
            c if c.is_whitespace() => {
                // Blank separator, optionally followed by one `=` or `:`.
                let after = line.get(i..).unwrap_or_default().trim_start();
                let after = after
                    .strip_prefix('=')
                    .or_else(|| after.strip_prefix(':'))
                    .unwrap_or(after);
                return (key, after.trim_start());
            }
            c => key.push(c),
        }
    }
    (key, line.get(rest_at..).unwrap_or_default().trim_start())
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                    Some(ch) => out.push(ch),
                    None => out.push_str(&hex),
                }
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Writes `key=value` lines (RocketMQ's `MixAll.properties2String` form).
pub fn to_properties_text<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (k, v) in pairs {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// Java `Boolean.parseBoolean`.
pub fn parse_java_bool(s: &str) -> bool {
    s.trim().eq_ignore_ascii_case("true")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn java_forms() {
        let text = "# c\n! c\n  listenPort = 9876  \nkvConfigPath:/tmp/kv.json\nname value\n\
                    long=a\\\n   b\nesc=\\u0041\\tB\nempty=\n";
        let p = parse_properties(text);
        assert_eq!(
            p,
            vec![
                ("listenPort".into(), "9876".into()),
                ("kvConfigPath".into(), "/tmp/kv.json".into()),
                ("name".into(), "value".into()),
                ("long".into(), "ab".into()),
                ("esc".into(), "A\tB".into()),
                ("empty".into(), "".into()),
            ]
        );
    }

    #[test]
    fn round_trip_simple() {
        let text = to_properties_text([("a", "1"), ("b", "x y")]);
        assert_eq!(
            parse_properties(&text),
            vec![("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
    }
}
