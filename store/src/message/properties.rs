//! Properties (`name\u0001value\u0002...`), Java's String.hashCode and tag codes.

const NAME_VALUE_SEPARATOR: char = '\u{1}';
const PROPERTY_SEPARATOR: char = '\u{2}';

/// Java's `String.hashCode` (over UTF-16 code units). "TagA" -> 2598919.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// ConsumeQueue tag code of a TAGS value: Java hash sign-extended; 0 for no tags.
pub fn tag_code(tags: &str) -> i64 {
    if tags.is_empty() {
        0
    } else {
        i64::from(java_string_hash(tags))
    }
}

/// Parses properties with Java's lenient rules: empty names/values are dropped, later
/// duplicates replace earlier ones.
pub fn parse_properties(s: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (k, v) in iter_properties(s) {
        match out.iter_mut().find(|(ok, _)| ok == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => out.push((k.to_string(), v.to_string())),
        }
    }
    out
}

/// Iterates name/value pairs without allocating (Java's parsing rules).
pub fn iter_properties(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split(PROPERTY_SEPARATOR).filter_map(|seg| {
        let (k, v) = seg.split_once(NAME_VALUE_SEPARATOR)?;
        (!k.is_empty() && !v.is_empty()).then_some((k, v))
    })
}

/// One property by name, last occurrence wins.
pub fn find_property<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    iter_properties(s)
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .last()
}

/// Serialises properties: `k\u0001v` joined by `\u0002`, no trailing separator.
pub fn encode_properties(p: &[(String, String)]) -> String {
    let mut out = String::new();
    for (k, v) in p {
        push_property(&mut out, k, v);
    }
    out
}

/// Appends one `k\u0001v` pair to encoded properties (the separator only between pairs).
pub fn push_property(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(PROPERTY_SEPARATOR);
    }
    out.push_str(name);
    out.push(NAME_VALUE_SEPARATOR);
    out.push_str(value);
}
