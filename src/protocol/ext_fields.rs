//! `extFields`, a command's custom header fields: text keys and values.
//!
//! A decoded command's fields are ranges of the received header bytes: decoding allocates one
//! list, not a String per key and value. Text that is not in the frame (a JSON string with
//! escapes, a JSON number, a value set by this process) is copied into one owned buffer;
//! keys set by this process are `&'static str`. Fields are read leniently, the way Java's
//! decoder reads them (numbers as decimal text, booleans via `parseBoolean` plus C++'s "1").

use std::fmt::{self, Write as _};
use std::str::FromStr;

use bytes::Bytes;

use super::error::HeaderError;

/// Where a key or value's text is.
#[derive(Clone, Copy, Debug)]
enum Loc {
    /// `frame[start..end]`, valid UTF-8 (it was a `&str` when stored).
    Frame(usize, usize),
    /// `owned[start..end]`.
    Owned(usize, usize),
    Static(&'static str),
}

/// A command's custom header fields (a map: setting a key again replaces its value).
#[derive(Clone, Default)]
pub struct ExtFields {
    frame: Bytes,
    owned: String,
    entries: Vec<(Loc, Loc)>,
    /// One bit per key shape present (see `key_bit`): a decoded key whose bit is clear is
    /// new, so decoding skips the search for a duplicate (a header's keys are distinct).
    seen: u64,
}

impl ExtFields {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_capacity(n: usize) -> Self {
        ExtFields {
            entries: Vec::with_capacity(n),
            ..Self::default()
        }
    }

    /// Fields to be decoded out of `frame` (the header bytes) with [`ExtFields::put_decoded`].
    pub(crate) fn over_frame(frame: Bytes, capacity: usize) -> Self {
        ExtFields {
            frame,
            owned: String::new(),
            entries: Vec::with_capacity(capacity),
            seen: 0,
        }
    }

    fn text(&self, loc: Loc) -> &str {
        match loc {
            // Stored from a `&str` of these same immutable bytes, so the check always passes;
            // it is a short ASCII scan in practice.
            Loc::Frame(s, e) => self
                .frame
                .get(s..e)
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
            Loc::Owned(s, e) => self.owned.get(s..e).unwrap_or(""),
            Loc::Static(s) => s,
        }
    }

    fn key_bytes(&self, loc: Loc) -> &[u8] {
        match loc {
            Loc::Frame(s, e) => self.frame.get(s..e).unwrap_or_default(),
            Loc::Owned(s, e) => self.owned.as_bytes().get(s..e).unwrap_or_default(),
            Loc::Static(s) => s.as_bytes(),
        }
    }

    fn position(&self, key: &str) -> Option<usize> {
        if self.seen & key_bit(key.as_bytes()) == 0 {
            return None; // absent optional fields are most lookups that miss
        }
        self.entries
            .iter()
            .position(|(k, _)| self.key_bytes(*k) == key.as_bytes())
    }

    /// `s` as a frame range when it lies inside the frame, else copied into the owned buffer.
    fn locate(&mut self, s: &str) -> Loc {
        let base = self.frame.as_ptr() as usize;
        let at = (s.as_ptr() as usize).wrapping_sub(base);
        if !self.frame.is_empty() && at <= self.frame.len() && s.len() <= self.frame.len() - at {
            return Loc::Frame(at, at + s.len());
        }
        self.own(s)
    }

    fn own(&mut self, s: &str) -> Loc {
        if self.owned.capacity() == 0 {
            // A reply's few fields fit in one allocation.
            self.owned.reserve(s.len().max(64));
        }
        let start = self.owned.len();
        self.owned.push_str(s);
        Loc::Owned(start, self.owned.len())
    }

    fn put(&mut self, key: Loc, value: Loc) {
        let bit = key_bit(self.key_bytes(key));
        if self.seen & bit == 0 {
            self.seen |= bit;
            self.entries.push((key, value));
            return;
        }
        let existing = self
            .entries
            .iter()
            .position(|(k, _)| self.key_bytes(*k) == self.key_bytes(key));
        match existing.and_then(|i| self.entries.get_mut(i)) {
            Some(entry) => entry.1 = value,
            None => self.entries.push((key, value)),
        }
    }

    /// A decoded field: text that lies in the frame is referenced, other text copied.
    pub(crate) fn put_decoded(&mut self, key: &str, value: &str) {
        let (k, v) = (self.locate(key), self.locate(value));
        self.put(k, v);
    }

    /// A decoded field whose value `write` produces (e.g. unescapes) into the owned buffer;
    /// `room` bounds what all such values can take, reserved at the first.
    pub(crate) fn put_decoded_with<E>(
        &mut self,
        key: &str,
        room: usize,
        write: impl FnOnce(&mut String) -> Result<(), E>,
    ) -> Result<(), E> {
        let k = self.locate(key);
        if self.owned.capacity() == 0 {
            self.owned.reserve(room);
        }
        let start = self.owned.len();
        write(&mut self.owned)?;
        let v = Loc::Owned(start, self.owned.len());
        self.put(k, v);
        Ok(())
    }

    /// Sets `key` (replacing its value if present).
    pub fn insert(&mut self, key: &'static str, value: impl AsRef<str>) {
        let v = self.own(value.as_ref());
        self.put(Loc::Static(key), v);
    }

    /// Sets `key` to `value`'s text, formatted straight into the owned buffer.
    pub fn insert_display(&mut self, key: &'static str, value: impl fmt::Display) {
        let start = self.owned.len();
        // Writing into a String cannot fail.
        let _ = write!(self.owned, "{value}");
        let v = Loc::Owned(start, self.owned.len());
        self.put(Loc::Static(key), v);
    }

    /// Sets a key that is not known at compile time (copied).
    pub fn insert_dynamic(&mut self, key: &str, value: &str) {
        let (k, v) = (self.own(key), self.own(value));
        self.put(k, v);
    }

    /// Removes `key`; returns whether it was present.
    pub fn remove(&mut self, key: &str) -> bool {
        match self.position(key) {
            Some(i) => {
                self.entries.remove(i);
                true
            }
            None => false,
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.position(key)
            .and_then(|i| self.entries.get(i))
            .map(|(_, v)| self.text(*v))
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.entries
            .iter()
            .map(|(k, v)| (self.text(*k), self.text(*v)))
    }

    /// Adds every field of `other`, replacing fields of the same name.
    pub fn extend(&mut self, other: &ExtFields) {
        for (k, v) in other.iter() {
            self.insert_dynamic(k, v);
        }
    }

    /// A required field (Java's `@CFNotNull`).
    pub fn req(&self, key: &'static str) -> Result<&str, HeaderError> {
        self.get(key).ok_or(HeaderError::Missing(key))
    }

    /// A required number: decimal text, a `.0` fraction tolerated (a JSON double).
    pub fn num<T: FromStr>(&self, key: &'static str) -> Result<T, HeaderError> {
        let v = self.req(key)?;
        parse_num(v).ok_or_else(|| invalid(key, v))
    }

    /// An optional number; an empty or blank value counts as absent (clients send it as a
    /// placeholder, and Java would not parse it either).
    pub fn opt_num<T: FromStr>(&self, key: &'static str) -> Result<Option<T>, HeaderError> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => parse_num(v).map(Some).ok_or_else(|| invalid(key, v)),
        }
    }

    /// A boolean: Java's `Boolean.parseBoolean` (case-insensitive "true"), plus "1" since the
    /// C++ 1.2.x client writes booleans with `to_string(bool)`. Absent is false.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(parse_flag)
    }
}

/// A key's bit in `seen`: from its length and first and last bytes, which tell apart the
/// keys of every header RocketMQ defines (send letters, long names) in practice.
fn key_bit(key: &[u8]) -> u64 {
    let first = key.first().copied().unwrap_or(0) as usize;
    let last = key.last().copied().unwrap_or(0) as usize;
    1 << ((key.len() * 7 + first * 3 + last) % 64)
}

pub(crate) fn parse_flag(v: &str) -> bool {
    let v = v.trim();
    v.eq_ignore_ascii_case("true") || v == "1"
}

/// Parses a decimal; tolerates surrounding blanks and a `.0` fraction.
pub(crate) fn parse_num<T: FromStr>(v: &str) -> Option<T> {
    let v = v.trim();
    v.parse()
        .ok()
        .or_else(|| v.strip_suffix(".0").and_then(|i| i.parse().ok()))
}

pub(crate) fn invalid(field: &'static str, text: &str) -> HeaderError {
    HeaderError::Invalid {
        field,
        value: text.chars().take(64).collect(),
    }
}

/// Same fields and values, in any order (as maps compare).
impl PartialEq for ExtFields {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for ExtFields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>, V: AsRef<str>> FromIterator<(K, V)> for ExtFields {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut ext = ExtFields::new();
        for (k, v) in iter {
            ext.insert_dynamic(k.as_ref(), v.as_ref());
        }
        ext
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoded_text_is_referenced_and_foreign_text_copied() {
        let frame = Bytes::from_static(b"topicTestqueueId");
        let mut ext = ExtFields::over_frame(frame.clone(), 4);
        let text = std::str::from_utf8(&frame).unwrap_or_default();
        ext.put_decoded(text.get(0..5).unwrap_or(""), text.get(5..9).unwrap_or(""));
        ext.put_decoded(text.get(9..16).unwrap_or(""), "3");
        assert_eq!(ext.get("topic"), Some("Test"));
        assert_eq!(ext.get("queueId"), Some("3"));
        assert!(ext.owned.len() == 1, "only the foreign value is copied");
        assert!(matches!(
            ext.entries.first(),
            Some((Loc::Frame(0, 5), Loc::Frame(5, 9)))
        ));
    }

    #[test]
    fn setting_a_key_again_replaces_it() {
        let mut ext = ExtFields::new();
        ext.insert("a", "1");
        ext.insert_dynamic("a", "2");
        ext.insert_display("b", 7_i64);
        assert_eq!(ext.len(), 2);
        assert_eq!(ext.get("a"), Some("2"));
        assert_eq!(ext.num::<i32>("b"), Ok(7));
        assert!(ext.remove("a"));
        assert!(!ext.contains_key("a"));
    }

    #[test]
    fn keys_of_one_shape_stay_apart() {
        // Same length, first and last byte: the same `seen` bit, different keys.
        let ext: ExtFields = [("a1b", "1"), ("a2b", "2"), ("a1b", "3")]
            .into_iter()
            .collect();
        assert_eq!(ext.len(), 2);
        assert_eq!((ext.get("a1b"), ext.get("a2b")), (Some("3"), Some("2")));
    }

    #[test]
    fn lenient_reads() {
        let ext: ExtFields = [
            ("n", " 5.0 "),
            ("e", ""),
            ("t", "TRUE"),
            ("one", "1"),
            ("zero", "0"),
            ("x", "y"),
        ]
        .into_iter()
        .collect();
        assert_eq!(ext.num::<i64>("n"), Ok(5));
        assert_eq!(ext.opt_num::<i32>("e"), Ok(None));
        assert_eq!(ext.opt_num::<i32>("missing"), Ok(None));
        assert!(ext.flag("t") && ext.flag("one"));
        assert!(!ext.flag("zero") && !ext.flag("x") && !ext.flag("missing"));
        assert_eq!(ext.req("missing"), Err(HeaderError::Missing("missing")));
        assert!(matches!(
            ext.num::<i32>("x"),
            Err(HeaderError::Invalid { field: "x", .. })
        ));
    }

    #[test]
    fn equality_ignores_order() {
        let a: ExtFields = [("a", "1"), ("b", "2")].into_iter().collect();
        let b: ExtFields = [("b", "2"), ("a", "1")].into_iter().collect();
        let c: ExtFields = [("b", "2"), ("a", "3")].into_iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
