//! The fast path of [`super::Obj::parse`]: one pass over a JSON object that finds where each
//! entry's key and value begin and end, validating the text as serde_json would.
//!
//! Why: native payloads are key-heavy (a LiteLLM record is ~2 KB of short strings and numbers
//! under ~60 keys). serde_json's visitor machinery and its re-validation of every nested object
//! when it is opened cost more than the bytes do; this scanner is a plain loop over bytes with
//! strings skipped sixteen bytes at a time (SSE2; eight with SWAR on other CPUs).
//!
//! Contract: it accepts only text that serde_json also accepts, and it gives up (`None`) on
//! anything it does not handle itself, such as an escaped key that does not decode. The caller
//! then runs serde_json, which either reports the error in its own words or accepts the text: a
//! disagreement costs time, never a different result. What serde_json accepts and this scanner
//! checks in the same way: `\u` escapes with four hex digits (surrogates are not paired when
//! skipping, as in serde_json's `ignore_value`), no control characters in strings, numbers in
//! JSON's grammar (no leading zeros, digits after `.` and in exponents), the literals, and only
//! whitespace after the object. Objects directly in objects are parsed 64 levels deep, and below
//! that any value is skipped 64 levels deep; deeper text goes to serde_json.
//!
//! Never: allocates for a value, or panics (every index is checked).

use std::borrow::Cow;

use super::{Entry, Obj, RawValue};

/// Parses text that must hold exactly one JSON object (whitespace around it allowed), with the
/// objects nested in it (not those inside arrays) parsed in the same pass, so opening them later
/// costs no second scan; `None` when the text is not that, or when serde_json must decide.
pub(super) fn object(text: &str) -> Option<Obj<'_>> {
    let mut cursor = Cursor::new(text);
    // Room for a native payload's entries at every level without growing.
    cursor.entries.reserve(64);
    cursor.skip_whitespace();
    cursor.eat(b'{')?;
    let obj = cursor.object_rest(0)?;
    cursor.skip_whitespace();
    (cursor.pos == text.len()).then_some(obj)
}

/// The elements of text that must hold exactly one JSON array; `None` as for [`object`].
pub(super) fn array_elements(text: &str) -> Option<Vec<&RawValue>> {
    let mut cursor = Cursor::new(text);
    cursor.skip_whitespace();
    cursor.eat(b'[')?;
    let mut elements = Vec::new();
    cursor.skip_whitespace();
    if cursor.peek() == Some(b']') {
        cursor.pos += 1;
    } else {
        loop {
            elements.push(cursor.value()?);
            cursor.skip_whitespace();
            match cursor.next()? {
                b',' => cursor.skip_whitespace(),
                b']' => break,
                _ => return None,
            }
        }
    }
    cursor.skip_whitespace();
    (cursor.pos == text.len()).then_some(elements)
}

/// How deep [`Cursor::value`] follows nesting itself (one bit per level), and how deep
/// [`Cursor::object_rest`] recurses.
const MAX_DEPTH: u32 = 64;

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    /// The entries of the objects being read, innermost last: each object's go into one
    /// allocation of the exact size when it closes.
    entries: Vec<Entry<'a>>,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Cursor<'a> {
        Cursor {
            text,
            pos: 0,
            entries: Vec::new(),
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        Some(byte)
    }

    fn eat(&mut self, wanted: u8) -> Option<()> {
        (self.next()? == wanted).then_some(())
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Reads the rest of an object after its `{`, `depth` objects deep.
    fn object_rest(&mut self, depth: u32) -> Option<Obj<'a>> {
        let first_entry = self.entries.len();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(Obj::default());
        }
        loop {
            let key = self.key()?;
            self.skip_whitespace();
            self.eat(b':')?;
            self.skip_whitespace();
            let (raw, child) = if self.peek() == Some(b'{') && depth < MAX_DEPTH {
                let start = self.pos;
                self.pos += 1;
                let child = self.object_rest(depth + 1)?;
                (RawValue::from_valid(self.text.get(start..self.pos)?), Some(child))
            } else {
                (self.value()?, None)
            };
            self.entries.push(Entry { key, raw, child });
            self.skip_whitespace();
            match self.next()? {
                b',' => self.skip_whitespace(),
                b'}' => {
                    return Some(Obj {
                        entries: self.entries.drain(first_entry..).collect(),
                    });
                }
                _ => return None,
            }
        }
    }

    /// Reads an object key (the cursor on its opening quote).
    fn key(&mut self) -> Option<Cow<'a, str>> {
        let start = self.pos;
        self.eat(b'"')?;
        let escaped = self.string_rest()?;
        let quoted = self.text.get(start..self.pos)?;
        if escaped {
            // Rare: decoded (and its surrogates checked) by serde_json, as the slow path would.
            serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
        } else {
            quoted.get(1..quoted.len() - 1).map(Cow::Borrowed)
        }
    }

    /// Skips one value (the cursor on its first byte) and returns its exact text.
    fn value(&mut self) -> Option<&'a RawValue> {
        let start = self.pos;
        // One bit per open container: 1 for an object, 0 for an array.
        let mut objects: u64 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value starts here.
            match self.next()? {
                b'"' => {
                    self.string_rest()?;
                }
                open @ (b'{' | b'[') => {
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    let object = open == b'{';
                    objects = (objects << 1) | u64::from(object);
                    depth += 1;
                    self.skip_whitespace();
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        objects >>= 1;
                        depth -= 1;
                    } else {
                        if object {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                b't' => self.literal(b"rue")?,
                b'f' => self.literal(b"alse")?,
                b'n' => self.literal(b"ull")?,
                b'-' => self.number_rest(None)?,
                digit @ b'0'..=b'9' => self.number_rest(Some(digit))?,
                _ => return None,
            }
            // A value ended: close containers until one goes on with a comma.
            loop {
                if depth == 0 {
                    return self.text.get(start..self.pos).map(RawValue::from_valid);
                }
                self.skip_whitespace();
                let in_object = objects & 1 == 1;
                match (self.next()?, in_object) {
                    (b',', true) => {
                        self.skip_whitespace();
                        self.member_key()?;
                        break;
                    }
                    (b',', false) => {
                        self.skip_whitespace();
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        objects >>= 1;
                        depth -= 1;
                    }
                    _ => return None,
                }
            }
        }
    }

    /// Skips a key inside a nested value and the colon after it, up to the member's value.
    fn member_key(&mut self) -> Option<()> {
        self.eat(b'"')?;
        self.string_rest()?;
        self.skip_whitespace();
        self.eat(b':')?;
        self.skip_whitespace();
        Some(())
    }

    fn literal(&mut self, rest: &[u8]) -> Option<()> {
        let tail = self.bytes().get(self.pos..self.pos + rest.len())?;
        (tail == rest).then(|| self.pos += rest.len())
    }

    /// Skips a number in JSON's grammar; `first` is its first digit, or `None` after a `-`.
    fn number_rest(&mut self, first: Option<u8>) -> Option<()> {
        let first = match first {
            Some(digit) => digit,
            None => self.next().filter(u8::is_ascii_digit)?,
        };
        if first == b'0' {
            // serde_json refuses a leading zero followed by digits.
            if self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                return None;
            }
        } else {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        Some(())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// Skips the rest of a string after its opening quote, through the closing one. Returns
    /// whether it held an escape.
    fn string_rest(&mut self) -> Option<bool> {
        let mut escaped = false;
        loop {
            self.pos = find_special(self.bytes(), self.pos)?;
            match self.next()? {
                b'"' => return Some(escaped),
                b'\\' => {
                    escaped = true;
                    match self.next()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.bytes().get(self.pos..self.pos + 4)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.pos += 4;
                        }
                        _ => return None,
                    }
                }
                // A control character, which JSON strings must escape.
                _ => return None,
            }
        }
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The position of the first `"`, `\` or control character at or after `pos`: sixteen bytes at a
/// time with SSE2 (part of every x86-64 CPU), then eight at a time.
#[cfg(target_arch = "x86_64")]
fn find_special(bytes: &[u8], mut pos: usize) -> Option<usize> {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    while let Some(chunk) = bytes.get(pos..).and_then(<[u8]>::first_chunk::<16>) {
        // SAFETY: SSE2 is part of the x86-64 baseline, so these instructions exist on every
        // CPU this code runs on; the one load reads exactly the sixteen bytes `chunk` borrows.
        let flagged = unsafe {
            let block = _mm_loadu_si128(chunk.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(block, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(block, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `max(byte, 0x1f) == 0x1f` is `byte <= 0x1f`.
            let control = _mm_cmpeq_epi8(_mm_max_epu8(block, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
        };
        if flagged != 0 {
            return Some(pos + flagged.trailing_zeros() as usize);
        }
        pos += 16;
    }
    find_special_swar(bytes, pos)
}

#[cfg(not(target_arch = "x86_64"))]
fn find_special(bytes: &[u8], pos: usize) -> Option<usize> {
    find_special_swar(bytes, pos)
}

/// [`find_special`] eight bytes at a time: for each test, the lowest flagged byte is exact (a
/// borrow only flags bytes above a true hit), and bytes ≥ 0x80 (UTF-8) are never flagged.
fn find_special_swar(bytes: &[u8], mut pos: usize) -> Option<usize> {
    while let Some(chunk) = bytes.get(pos..).and_then(<[u8]>::first_chunk::<8>) {
        let word = u64::from_le_bytes(*chunk);
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        let flagged = (quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash
            | word.wrapping_sub(ONES * 0x20) & !word)
            & HIGHS;
        if flagged != 0 {
            return Some(pos + (flagged.trailing_zeros() / 8) as usize);
        }
        pos += 8;
    }
    let rest = bytes.get(pos..)?;
    rest.iter()
        .position(|&byte| byte == b'"' || byte == b'\\' || byte < 0x20)
        .map(|offset| pos + offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the scanner and serde_json agree on `text`: the scanner gives up, or serde_json
    /// (the parse `Obj::parse` falls back to) accepts it with the same keys and value texts, in
    /// order. `Err` says how they differ.
    fn agrees(text: &str) -> Result<(), String> {
        match object(text) {
            None => Ok(()),
            Some(obj) => same_as_serde(text, &obj),
        }
    }

    /// `obj` (and every object parsed with it) holds what serde_json reads from `text`.
    fn same_as_serde(text: &str, obj: &Obj<'_>) -> Result<(), String> {
        for entry in obj.entries.iter() {
            if let Some(child) = &entry.child {
                same_as_serde(entry.raw.get(), child)?;
            }
        }
        let serde = serde_json::from_str::<super::super::Entries<'_>>(text)
            .map_err(|error| format!("serde_json refuses what the scanner accepts: {error}"))?;
        let theirs: Vec<(&str, &str)> = serde
            .0
            .iter()
            .map(|(key, raw)| (key.as_ref(), raw.get()))
            .collect();
        let ours: Vec<(&str, &str)> = obj.entries().map(|(key, raw)| (key, raw.get())).collect();
        if ours == theirs {
            Ok(())
        } else {
            Err(format!("the entries differ: {ours:?} against {theirs:?}"))
        }
    }

    #[test]
    fn splits_an_object_into_exact_value_texts() {
        let text = r#" { "a" : "x\"y" , "n":-0.5e+3, "o":{"p":[1,{"q":null},[]],"r":{}},"t":true,"f":false,"k\u00e9":"é" } "#;
        let obj = object(text).unwrap();
        let entries = &obj.entries;
        let got: Vec<(&str, &str)> = entries
            .iter()
            .map(|entry| (entry.key.as_ref(), entry.raw.get()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", r#""x\"y""#),
                ("n", "-0.5e+3"),
                ("o", r#"{"p":[1,{"q":null},[]],"r":{}}"#),
                ("t", "true"),
                ("f", "false"),
                ("ké", r#""é""#),
            ]
        );
        assert!(matches!(entries[5].key, Cow::Owned(_)));
        // The nested object was parsed in the same pass, with its own nested one.
        let nested = entries[2].child.as_ref().unwrap();
        assert_eq!(nested.keys().collect::<Vec<_>>(), ["p", "r"]);
        assert!(nested.entries[1].child.is_some());
        assert!(entries.iter().filter(|entry| entry.child.is_some()).count() == 1);
        assert!(object("{}").unwrap().entries.is_empty());
        assert_eq!(array_elements(r#"[ "a", 1 ,{"b":[]}]"#).unwrap().len(), 3);
        assert!(array_elements("[]").unwrap().is_empty());
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for text in [
            "",
            "[1]",
            "{",
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a":1,}"#,
            r#"{"a":1}x"#,
            r#"{"a":01}"#,
            r#"{"a":1.}"#,
            r#"{"a":1e}"#,
            r#"{"a":-}"#,
            r#"{"a":+1}"#,
            r#"{"a":tru}"#,
            r#"{"a":"\x"}"#,
            r#"{"a":"\u12"}"#,
            "{\"a\":\"tab\there\"}",
            r#"{"a":[1,]}"#,
            r#"{"a":[1 2]}"#,
            r#"{"a":{"b":1,}}"#,
            r#"{"a":{"b" 1}}"#,
            r#"{"a":[}"#,
            r#"{"a":{]}"#,
            r#"{"a":"unterminated}"#,
        ] {
            assert!(object(text).is_none(), "{text}");
            agrees(text).unwrap();
        }
    }

    #[test]
    fn deep_nesting_is_left_to_serde_json() {
        let deep = format!(r#"{{"a":{}1{}}}"#, "[".repeat(70), "]".repeat(70));
        assert!(object(&deep).is_none());
        let fine = format!(r#"{{"a":{}1{}}}"#, "[".repeat(60), "]".repeat(60));
        assert_eq!(object(&fine).unwrap().entries.len(), 1);
        // Objects in objects: recursion to 64 levels, then the iterative skip for 64 more.
        let objects = |levels: usize| format!("{}{{}}{}", r#"{"a":"#.repeat(levels), "}".repeat(levels));
        assert!(object(&objects(100)).is_some());
        agrees(&objects(100)).unwrap();
        assert!(object(&objects(200)).is_none());
    }

    #[test]
    fn finds_special_bytes_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x1f, 0x00] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = special;
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(find_special(&bytes, 0), Some(at), "len {len} at {at}");
                    assert_eq!(find_special_swar(&bytes, 0), Some(at), "len {len} at {at}");
                }
            }
            let plain: Vec<u8> = "é".repeat(len).into_bytes();
            assert_eq!(find_special(&plain, 0), None);
            assert_eq!(find_special_swar(&plain, 0), None);
        }
    }

    #[test]
    fn agrees_with_serde_json_on_mutated_payloads() {
        // Single-byte replacements with JSON's structural and number bytes, at pseudo-random
        // positions (a fixed linear congruential sequence, so a failure reproduces).
        const BYTES: &[u8] = b"\"\\{}[],: \t0123456789-+.eEtfnu\x01x";
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as usize % bound
        };
        let line = include_str!("../../../sample_data/litellm.ndjson")
            .lines()
            .next()
            .unwrap();
        for _ in 0..3000 {
            let mut bytes = line.as_bytes().to_vec();
            for _ in 0..1 + next(3) {
                let at = next(bytes.len());
                if bytes[at].is_ascii() {
                    bytes[at] = BYTES[next(BYTES.len())];
                }
            }
            let text = String::from_utf8(bytes).unwrap();
            agrees(&text).unwrap();
        }
    }

    #[test]
    fn agrees_with_serde_json_on_every_cut_of_real_payloads() {
        let samples = [
            include_str!("../../../sample_data/litellm.ndjson"),
            include_str!("../../../sample_data/canonical.ndjson"),
            include_str!("../../../sample_data/helicone.ndjson"),
            include_str!("../../../sample_data/portkey.ndjson"),
            include_str!("../../../sample_data/kong.ndjson"),
            include_str!("../../../sample_data/bedrock.ndjson"),
        ];
        for sample in samples {
            for line in sample.lines().take(2) {
                assert!(object(line).is_some(), "{line}");
                agrees(line).unwrap();
                for cut in 0..line.len() {
                    if line.is_char_boundary(cut) {
                        agrees(&line[..cut]).unwrap();
                    }
                }
            }
        }
    }
}
