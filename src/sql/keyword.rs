//! The first keyword of a piece of SQL, past whitespace and comments. Used to split `EXPLAIN`
//! from the statement it explains, and to name a refused statement in the error message; never
//! to decide on its own whether something may run (that is `policy`, on DuckDB's parse tree).

/// Returns the first word of `sql` (ASCII letters and underscores) after whitespace, `--` line
/// comments and `/* */` block comments (nested, as DuckDB's scanner reads them), and the byte
/// offset just past it. `None` when the text starts with anything else (a parenthesis, a quote)
/// or has no word at all.
pub(crate) fn leading_keyword(sql: &str) -> Option<(&str, usize)> {
    let bytes = sql.as_bytes();
    let mut at = 0;
    loop {
        while at < bytes.len() && bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        if bytes[at..].starts_with(b"--") {
            while at < bytes.len() && bytes[at] != b'\n' {
                at += 1;
            }
        } else if bytes[at..].starts_with(b"/*") {
            let mut depth = 0usize;
            while at < bytes.len() {
                if bytes[at..].starts_with(b"/*") {
                    depth += 1;
                    at += 2;
                } else if bytes[at..].starts_with(b"*/") {
                    depth -= 1;
                    at += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    at += 1;
                }
            }
            if depth > 0 {
                return None;
            }
        } else {
            break;
        }
    }
    let start = at;
    while at < bytes.len() && (bytes[at].is_ascii_alphabetic() || bytes[at] == b'_') {
        at += 1;
    }
    (at > start).then(|| (&sql[start..at], at))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_whitespace_and_comments() {
        assert_eq!(leading_keyword("  select 1"), Some(("select", 8)));
        assert_eq!(
            leading_keyword("-- hi\n/* a /* b */ c */ EXPLAIN SELECT 1").map(|k| k.0),
            Some("EXPLAIN")
        );
        assert_eq!(leading_keyword("(SELECT 1)"), None);
        assert_eq!(leading_keyword("/* open"), None);
        assert_eq!(leading_keyword(""), None);
        assert_eq!(leading_keyword("-- only a comment"), None);
    }
}
