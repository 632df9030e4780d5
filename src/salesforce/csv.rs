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
        let mut row = Row::default();
        self.next_into(&mut row).then(|| row.to_vec())
    }

    /// The last row when the body ends without a newline.
    pub fn finish(&mut self) -> Option<Vec<String>> {
        let mut row = Row::default();
        self.finish_into(&mut row).then(|| row.to_vec())
    }

    /// The next complete row into `row` (its buffers reused: no allocation per row or field).
    pub fn next_into(&mut self, row: &mut Row) -> bool {
        let mut i = self.scanned.max(self.start);
        while i < self.buf.len() {
            match self.buf[i] {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    row.fill(&self.buf[self.start..i]);
                    self.start = i + 1;
                    self.scanned = self.start;
                    return true;
                }
                _ => {}
            }
            i += 1;
        }
        self.scanned = i;
        false
    }

    /// The last row when the body ends without a newline; the reader is reset.
    pub fn finish_into(&mut self, row: &mut Row) -> bool {
        let rest = &self.buf[self.start.min(self.buf.len())..];
        let some = !rest.is_empty();
        if some {
            row.fill(rest);
        }
        *self = Self::default();
        some
    }
}

/// One row's fields, unquoted, in one text buffer (reused from row to row).
#[derive(Default)]
pub struct Row {
    text: String,
    /// Where each field ends in `text`.
    ends: Vec<usize>,
}

impl Row {
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i` (empty past the end).
    pub fn get(&self, i: usize) -> &str {
        let Some(&end) = self.ends.get(i) else {
            return "";
        };
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..end]
    }

    /// A blank line (every field empty).
    pub fn all_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn to_vec(&self) -> Vec<String> {
        (0..self.len()).map(|i| self.get(i).to_string()).collect()
    }

    fn fill(&mut self, line: &[u8]) {
        self.text.clear();
        self.ends.clear();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // Quotes and commas are ASCII, so every cut below falls on a character boundary; invalid
        // UTF-8 (never sent by Salesforce) becomes U+FFFD as before.
        let line = String::from_utf8_lossy(line);
        let b = line.as_bytes();
        let mut quoted = false;
        // Start of the run of field text not yet copied.
        let mut run = 0;
        let mut i = 0;
        while i < b.len() {
            match (b[i], quoted) {
                (b'"', true) => {
                    self.text.push_str(&line[run..i]);
                    if b.get(i + 1) == Some(&b'"') {
                        self.text.push('"');
                        i += 1;
                    } else {
                        quoted = false;
                    }
                    run = i + 1;
                }
                (b'"', false) => {
                    self.text.push_str(&line[run..i]);
                    quoted = true;
                    run = i + 1;
                }
                (b',', false) => {
                    self.text.push_str(&line[run..i]);
                    self.ends.push(self.text.len());
                    run = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        self.text.push_str(&line[run..]);
        self.ends.push(self.text.len());
    }
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
