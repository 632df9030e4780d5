//! An incremental RFC 4180 reader for Bulk API results: bytes arrive in chunks, complete rows come
//! out, a row split across chunks waits for the rest.

/// Buffers bytes and yields complete rows.
#[derive(Default)]
pub struct CsvReader {
    buf: Vec<u8>,
    /// Where the next row starts; consumed bytes are dropped in bulk, not per row (draining the
    /// front per row made a results page quadratic in its chunk size).
    start: usize,
    /// Bytes already scanned for a row end (so a long row is not rescanned per chunk).
    scanned: usize,
    in_quotes: bool,
}

impl CsvReader {
    pub fn push(&mut self, chunk: &[u8]) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete row, if the buffer holds one.
    pub fn next_row(&mut self) -> Option<Vec<String>> {
        let mut i = self.scanned.max(self.start);
        while i < self.buf.len() {
            match self.buf[i] {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    let row = split(&self.buf[self.start..i]);
                    self.start = i + 1;
                    self.scanned = self.start;
                    return Some(row);
                }
                _ => {}
            }
            i += 1;
        }
        self.scanned = i;
        None
    }

    /// The last row when the body ends without a newline.
    pub fn finish(&mut self) -> Option<Vec<String>> {
        let rest = &self.buf[self.start.min(self.buf.len())..];
        let row = if rest.is_empty() {
            None
        } else {
            Some(split(rest))
        };
        *self = Self::default();
        row
    }
}

fn split(line: &[u8]) -> Vec<String> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut out = Vec::new();
    let mut field = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < line.len() {
        let c = line[i];
        if quoted {
            if c == b'"' {
                if line.get(i + 1) == Some(&b'"') {
                    field.push(b'"');
                    i += 1;
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' {
            out.push(String::from_utf8_lossy(&field).into_owned());
            field.clear();
        } else {
            field.push(c);
        }
        i += 1;
    }
    out.push(String::from_utf8_lossy(&field).into_owned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn encode(rows: &[Vec<String>]) -> String {
        rows.iter()
            .map(|r| {
                r.iter()
                    .map(|f| format!("\"{}\"", f.replace('"', "\"\"")))
                    .collect::<Vec<_>>()
                    .join(",")
                    + "\n"
            })
            .collect()
    }

    #[test]
    fn quoted_fields_and_split_chunks() {
        let mut r = CsvReader::default();
        r.push(b"\"Id\",\"Name\"\n\"1\",\"A, \"\"B\"\"");
        assert_eq!(
            r.next_row(),
            Some(vec!["Id".to_string(), "Name".to_string()])
        );
        assert_eq!(r.next_row(), None);
        r.push(b"\nline\"\n\"2\",\"\"\n");
        assert_eq!(
            r.next_row(),
            Some(vec!["1".to_string(), "A, \"B\"\nline".to_string()])
        );
        assert_eq!(r.next_row(), Some(vec!["2".to_string(), String::new()]));
        assert_eq!(r.next_row(), None);
        assert_eq!(r.finish(), None);
    }

    proptest! {
        #[test]
        fn any_chunking_round_trips(rows in prop::collection::vec(prop::collection::vec(r#"[a-z",\n ]{0,6}"#, 3), 1..20), cut in 1usize..17) {
            let text = encode(&rows);
            let mut r = CsvReader::default();
            let mut got = Vec::new();
            for chunk in text.as_bytes().chunks(cut) {
                r.push(chunk);
                while let Some(row) = r.next_row() { got.push(row); }
            }
            prop_assert_eq!(got, rows);
        }
    }
}
