//! From request bytes to records: decompression with a size cap, then the body's shape (one JSON
//! array, one JSON document, or NDJSON), following `shared/formats/README.md`, "Reading a request
//! body".
//!
//! Nothing here knows about formats; it yields [`RawRecord`]s with their position for error
//! reports. Invalid UTF-8 is a per-line problem in NDJSON and a whole-body problem otherwise.

use std::io::Read;

use serde_json::value::RawValue;

use super::IngestError;

/// How the body was compressed, from `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Zstd,
}

impl Encoding {
    /// Reads a `Content-Encoding` header value; `None` for anything we do not decode.
    pub fn from_header(value: Option<&str>) -> Option<Encoding> {
        match value.map(|text| text.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("identity") => Some(Encoding::Identity),
            Some("gzip") | Some("x-gzip") => Some(Encoding::Gzip),
            Some("zstd") => Some(Encoding::Zstd),
            Some(_) => None,
        }
    }

    /// Guesses the encoding of a file from its name (`.gz`, `.zst`).
    pub fn from_file_name(name: &str) -> Encoding {
        if name.ends_with(".gz") {
            Encoding::Gzip
        } else if name.ends_with(".zst") || name.ends_with(".zstd") {
            Encoding::Zstd
        } else {
            Encoding::Identity
        }
    }
}

/// Decompresses `bytes`, refusing to produce more than `max_bytes` (the gzip-bomb guard).
///
/// # Errors
/// [`IngestError::PayloadTooLarge`] past the cap, [`IngestError::BadEncoding`] when the stream is
/// not valid gzip/zstd.
pub fn decode(encoding: Encoding, bytes: Vec<u8>, max_bytes: u64) -> Result<Vec<u8>, IngestError> {
    match encoding {
        Encoding::Identity => {
            if bytes.len() as u64 > max_bytes {
                return Err(IngestError::PayloadTooLarge { limit: max_bytes });
            }
            Ok(bytes)
        }
        Encoding::Gzip => read_capped(
            flate2::read::MultiGzDecoder::new(bytes.as_slice()),
            "gzip",
            max_bytes,
            gzip_size_hint(&bytes),
        ),
        Encoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(bytes.as_slice()).map_err(|error| {
                IngestError::BadEncoding {
                    encoding: "zstd",
                    reason: error.to_string(),
                }
            })?;
            read_capped(decoder, "zstd", max_bytes, zstd_size_hint(&bytes))
        }
    }
}

/// The decompressed size a gzip stream declares in its trailer (`ISIZE`, the size modulo 2³² of
/// its last member). A hint only: sizing the output once saves the copies and page faults of a
/// doubling buffer, which were a visible part of the ingest profile.
fn gzip_size_hint(bytes: &[u8]) -> Option<u64> {
    let trailer: [u8; 4] = bytes.get(bytes.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u64::from(u32::from_le_bytes(trailer)))
}

/// The content size a zstd frame header declares, when the compressor wrote it.
fn zstd_size_hint(bytes: &[u8]) -> Option<u64> {
    zstd::zstd_safe::get_frame_content_size(bytes).ok().flatten()
}

fn read_capped(
    reader: impl Read,
    encoding: &'static str,
    max_bytes: u64,
    size_hint: Option<u64>,
) -> Result<Vec<u8>, IngestError> {
    // The hint comes from the sender: never trust it past the cap (nor past 4 GiB), and keep a
    // spare byte so that reading to the end does not grow the buffer.
    let capacity = size_hint
        .map_or(0, |size| size.min(max_bytes).saturating_add(1))
        .min(u64::from(u32::MAX));
    let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    // Read one byte past the cap so that "exactly at the cap" and "over it" differ.
    let mut limited = reader.take(max_bytes.saturating_add(1));
    limited
        .read_to_end(&mut out)
        .map_err(|error| IngestError::BadEncoding {
            encoding,
            reason: error.to_string(),
        })?;
    if out.len() as u64 > max_bytes {
        return Err(IngestError::PayloadTooLarge { limit: max_bytes });
    }
    Ok(out)
}

/// One record of a body: its position and its text, or why its text is unusable.
#[derive(Debug)]
pub struct RawRecord<'a> {
    /// 0-based position among the body's records.
    pub index: usize,
    /// 1-based physical line; `None` for elements of a JSON array.
    pub line: Option<usize>,
    pub text: Result<&'a str, LineProblem>,
}

/// Why one NDJSON line cannot be read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineProblem {
    InvalidUtf8,
}

/// The records of a decoded body.
pub struct Records<'a> {
    pub records: Vec<RawRecord<'a>>,
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Splits a decoded body into records.
///
/// # Errors
/// [`IngestError::EmptyBody`] when there is nothing but whitespace, [`IngestError::InvalidJson`]
/// when the body is not JSON at all, [`IngestError::InvalidUtf8`] when a non-NDJSON body is not
/// UTF-8.
pub fn split(body: &[u8]) -> Result<Records<'_>, IngestError> {
    let body = body.strip_prefix(UTF8_BOM).unwrap_or(body);
    let Some(first) = body.iter().position(|byte| !byte.is_ascii_whitespace()) else {
        return Err(IngestError::EmptyBody);
    };
    match body[first] {
        b'[' => split_array(body),
        b'{' => match std::str::from_utf8(body) {
            Ok(text) if serde_json::from_str::<&RawValue>(text).is_ok() => {
                // One JSON document (possibly pretty-printed over many lines).
                let line = 1 + body[..first].iter().filter(|byte| **byte == b'\n').count();
                Ok(Records {
                    records: vec![RawRecord {
                        index: 0,
                        line: Some(line),
                        text: Ok(text.trim()),
                    }],
                })
            }
            // The usual NDJSON body, valid UTF-8 as a whole: split as text (memchr), without
            // checking each line again.
            Ok(text) => Ok(split_ndjson_text(text)),
            Err(_) => Ok(split_ndjson(body)),
        },
        _ => Err(IngestError::InvalidJson {
            reason: "the body is neither a JSON array, a JSON object nor NDJSON".to_owned(),
        }),
    }
}

fn split_array(body: &[u8]) -> Result<Records<'_>, IngestError> {
    let text = std::str::from_utf8(body).map_err(|_| IngestError::InvalidUtf8)?;
    let elements: Vec<&RawValue> = serde_json::from_str(text).map_err(|error| IngestError::InvalidJson {
        reason: format!("the JSON array cannot be parsed: {error}"),
    })?;
    let records = elements
        .into_iter()
        .enumerate()
        .map(|(index, raw)| RawRecord {
            index,
            line: None,
            text: Ok(raw.get()),
        })
        .collect();
    Ok(Records { records })
}

fn split_ndjson_text(text: &str) -> Records<'_> {
    let mut records = Vec::new();
    // Line ends found with the memchr crate's vector search (`str::split` looks for a `char`
    // a word at a time, which costs more than the parse of a short record).
    let ends = memchr::memchr_iter(b'\n', text.as_bytes()).chain(std::iter::once(text.len()));
    let mut start = 0;
    for (line_idx, end) in ends.enumerate() {
        // A newline is one byte and ASCII: both ends are character boundaries.
        let line = text.get(start..end).unwrap_or_default();
        start = end + 1;
        if line.bytes().all(|byte| byte.is_ascii_whitespace()) {
            continue;
        }
        records.push(RawRecord {
            index: records.len(),
            line: Some(line_idx + 1),
            text: Ok(line.trim()),
        });
    }
    Records { records }
}

/// NDJSON with invalid UTF-8 somewhere: each line is checked on its own, so one bad line is
/// one refused record.
fn split_ndjson(body: &[u8]) -> Records<'_> {
    let mut records = Vec::new();
    for (line_idx, line) in body.split(|byte| *byte == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = std::str::from_utf8(line)
            .map(str::trim)
            .map_err(|_| LineProblem::InvalidUtf8);
        records.push(RawRecord {
            index: records.len(),
            line: Some(line_idx + 1),
            text,
        });
    }
    Records { records }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_skips_blank_lines_and_keeps_physical_line_numbers() {
        let body = b"\xEF\xBB\xBF{\"a\":1}\r\n\r\n   \r\n{\"a\":2}\n\n{\"a\":3}";
        let records = split(body).unwrap().records;
        let lines: Vec<_> = records.iter().map(|record| record.line).collect();
        assert_eq!(lines, vec![Some(1), Some(4), Some(6)]);
        assert_eq!(records[2].index, 2);
    }

    #[test]
    fn one_pretty_printed_document_is_one_record() {
        let records = split(b"\n{\n  \"a\": 1\n}\n").unwrap().records;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].line, Some(2));
    }

    #[test]
    fn empty_and_non_json_bodies_are_refused() {
        assert!(matches!(split(b" \n\t "), Err(IngestError::EmptyBody)));
        assert!(matches!(split(b"hello"), Err(IngestError::InvalidJson { .. })));
        assert!(matches!(split(b"[1, 2"), Err(IngestError::InvalidJson { .. })));
    }

    #[test]
    fn gzip_bombs_stop_at_the_cap() {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![b' '; 1 << 20]).unwrap();
        let compressed = encoder.finish().unwrap();
        assert!(matches!(
            decode(Encoding::Gzip, compressed, 1000),
            Err(IngestError::PayloadTooLarge { limit: 1000 })
        ));
    }

    #[test]
    fn a_lying_size_trailer_changes_nothing_but_the_first_allocation() {
        use std::io::Write;
        let text = b"{\"a\":1}\n{\"a\":2}\n".repeat(100);
        let gzip = |body: &[u8]| {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(body).unwrap();
            encoder.finish().unwrap()
        };
        let honest = gzip(&text);
        assert_eq!(gzip_size_hint(&honest), Some(text.len() as u64));
        assert_eq!(decode(Encoding::Gzip, honest.clone(), 1 << 20).unwrap(), text);
        // A trailer claiming 4 GiB (the CRC check fails, as it must) and one claiming 1 byte.
        for claimed in [u32::MAX, 1] {
            let mut lying = honest.clone();
            let at = lying.len() - 4;
            lying[at..].copy_from_slice(&claimed.to_le_bytes());
            assert!(matches!(
                decode(Encoding::Gzip, lying, 1 << 20),
                Err(IngestError::BadEncoding { .. })
            ));
        }
        // Two members: the trailer is the last member's, the body is both.
        let mut two = gzip(&text);
        two.extend(gzip(b"{\"a\":3}\n"));
        assert_eq!(
            decode(Encoding::Gzip, two, 1 << 20).unwrap().len(),
            text.len() + 8
        );
        // zstd: a one-shot frame declares its size, a streamed one does not.
        let sized = zstd::bulk::compress(&text, 1).unwrap();
        assert_eq!(zstd_size_hint(&sized), Some(text.len() as u64));
        assert_eq!(decode(Encoding::Zstd, sized, 1 << 20).unwrap(), text);
        let streamed = zstd::encode_all(text.as_slice(), 1).unwrap();
        assert_eq!(zstd_size_hint(&streamed), None);
        assert_eq!(decode(Encoding::Zstd, streamed, 1 << 20).unwrap(), text);
    }
}
