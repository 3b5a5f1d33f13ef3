//! Reading inputs: expanding paths (directories, globs, `-`), undoing gzip, recognising the
//! format from the content, and cutting the input into chunks the workers convert.

use crate::error::{IoContext, Result, StoreError};
use flate2::read::MultiGzDecoder;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Bytes of JSON lines handed to a worker at a time.
pub const CHUNK_BYTES: usize = 4 * 1024 * 1024;
/// CSV records handed to a worker at a time.
pub const CSV_CHUNK_RECORDS: usize = 8 * 1024;

/// The physical format of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// One JSON record (or Event Hub message, or array) per line.
    JsonLines,
    /// One JSON document, or several, possibly pretty-printed; a top-level array's elements
    /// are the records.
    JsonDocument,
    Csv,
    Parquet,
}

impl FileFormat {
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::JsonLines => "json-lines",
            FileFormat::JsonDocument => "json-document",
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

/// Expands the command line's inputs: `-` (stdin), files, directories (recursively, hidden
/// entries skipped) and glob patterns, in a stable order.
pub fn expand(args: &[String]) -> Result<Vec<Option<PathBuf>>> {
    let mut out = Vec::new();
    for arg in args {
        if arg == "-" {
            out.push(None);
            continue;
        }
        let path = PathBuf::from(arg);
        if path.exists() {
            walk(&path, &mut out)?;
            continue;
        }
        if arg.contains(['*', '?', '[']) {
            let pattern = glob::glob(arg).map_err(|e| StoreError::Invalid(format!("bad glob pattern '{arg}': {e}")))?;
            let mut matched = 0;
            for entry in pattern {
                let p = entry.map_err(|e| StoreError::Invalid(format!("{arg}: {e}")))?;
                walk(&p, &mut out)?;
                matched += 1;
            }
            if matched == 0 {
                return Err(StoreError::Invalid(format!("no file matches '{arg}'")));
            }
            continue;
        }
        return Err(StoreError::Io {
            path,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    }
    Ok(out)
}

fn walk(path: &Path, out: &mut Vec<Option<PathBuf>>) -> Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .at(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, out)?;
        }
    } else {
        out.push(Some(path.to_path_buf()));
    }
    Ok(())
}

/// The table a file name names, as the portal's exports name them:
/// `DeviceProcessEvents.csv`, `DeviceProcessEvents_2024-05-01.csv.gz`.
pub fn table_from_file_name(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let mut stem = name.as_str();
    for ext in [".gz", ".csv", ".json", ".jsonl", ".ndjson", ".parquet", ".txt"] {
        if let Some(s) = stem.strip_suffix(ext) {
            stem = s;
        }
    }
    let base = match stem.find('_') {
        Some(i) if stem[i + 1..].starts_with(|c: char| c.is_ascii_digit()) => &stem[..i],
        _ => stem,
    };
    (!base.is_empty()).then(|| base.to_string())
}

/// BLAKE3 of a file's bytes, hex.
pub fn hash_file(path: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).at(path)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = f.read(&mut buf).at(path)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((hasher.finalize().to_hex().to_string(), total))
}

/// Counts the raw bytes read from a file, for progress.
pub struct Counting<R> {
    inner: R,
    pub on_read: Box<dyn FnMut(u64) + Send>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_read)(n as u64);
        Ok(n)
    }
}

/// Opens a file, transparently gunzipping it (by magic bytes, not name), and tells whether
/// the raw file is Parquet.
pub fn open(path: &Path, on_read: Box<dyn FnMut(u64) + Send>) -> Result<(Box<dyn BufRead + Send>, bool)> {
    let mut f = std::fs::File::open(path).at(path)?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = f.read(&mut magic[got..]).at(path)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    use std::io::Seek;
    f.seek(std::io::SeekFrom::Start(0)).at(path)?;
    let counting = Counting { inner: f, on_read };
    if got >= 2 && magic[..2] == [0x1f, 0x8b] {
        let dec = MultiGzDecoder::new(BufReader::with_capacity(1 << 20, counting));
        return Ok((Box::new(BufReader::with_capacity(1 << 20, dec)), false));
    }
    let is_parquet = got == 4 && &magic == b"PAR1";
    Ok((Box::new(BufReader::with_capacity(1 << 20, counting)), is_parquet))
}

/// Recognises the format from the first bytes of the (decompressed) content.
pub fn sniff(reader: &mut dyn BufRead, path: &Path) -> Result<Option<FileFormat>> {
    // Skip a UTF-8 byte order mark (Excel and the portal write one on CSV).
    let buf = reader.fill_buf().at(path)?;
    if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
        reader.consume(3);
    }
    let mut peek = Vec::new();
    loop {
        let buf = reader.fill_buf().at(path)?;
        if buf.is_empty() {
            break;
        }
        // Whitespace before the first record does not decide anything.
        let skip = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if skip == buf.len() {
            let n = buf.len();
            reader.consume(n);
            continue;
        }
        reader.consume(skip);
        let buf = reader.fill_buf().at(path)?;
        peek.extend_from_slice(&buf[..buf.len().min(64 * 1024)]);
        break;
    }
    let Some(&first) = peek.first() else {
        return Ok(None);
    };
    Ok(Some(match first {
        b'[' => FileFormat::JsonDocument,
        b'{' => {
            // A first line that opens an object or array without closing it is a
            // pretty-printed document; a complete value on the first line means JSON lines.
            let line_end = memchr::memchr(b'\n', &peek).unwrap_or(peek.len());
            let first_line = String::from_utf8_lossy(&peek[..line_end]);
            let t = first_line.trim_end();
            if t == "{" || t.ends_with('[') || t.ends_with('{') || t.ends_with(',') || t.ends_with(':') {
                FileFormat::JsonDocument
            } else {
                FileFormat::JsonLines
            }
        }
        _ => FileFormat::Csv,
    }))
}

/// One line read by [`read_line_bounded`].
pub enum Line {
    /// The line (without its newline) was appended to the buffer.
    Complete,
    /// The line was longer than the limit: the first `limit` bytes were appended, the rest
    /// skipped; `len` is the whole line's length.
    TooLong {
        len: u64,
    },
    Eof,
}

/// Reads one line into `buf`, keeping at most `limit` bytes of it, so a huge line neither
/// fills memory nor stops the input.
pub fn read_line_bounded(r: &mut dyn BufRead, buf: &mut Vec<u8>, limit: usize, path: &Path) -> Result<Line> {
    let start = buf.len();
    let mut len: u64 = 0;
    let mut any = false;
    loop {
        let avail = r.fill_buf().at(path)?;
        if avail.is_empty() {
            break;
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', avail) {
            Some(i) => (i, true),
            None => (avail.len(), false),
        };
        let room = limit.saturating_sub(buf.len() - start);
        buf.extend_from_slice(&avail[..take.min(room)]);
        len += take as u64;
        r.consume(if done { take + 1 } else { take });
        if done {
            break;
        }
    }
    if !any {
        return Ok(Line::Eof);
    }
    if buf.len() > start && buf.last() == Some(&b'\r') && len as usize <= limit {
        buf.pop();
    }
    if len as usize > limit {
        return Ok(Line::TooLong { len });
    }
    Ok(Line::Complete)
}

/// Splits a JSON document into its records: the elements of a top-level array, or the
/// top-level values one after another. Returns (start, end, line) of each; a value left
/// open at the end runs to the end of the buffer (and fails to parse there).
pub fn split_document(buf: &[u8]) -> Vec<(usize, usize, u64)> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut line: u64 = 1;
    let n = buf.len();
    let skip_ws = |i: &mut usize, line: &mut u64| {
        while *i < n && buf[*i].is_ascii_whitespace() {
            if buf[*i] == b'\n' {
                *line += 1;
            }
            *i += 1;
        }
    };
    // Scans one value from `i`; returns its end.
    let scan_value = |i: &mut usize, line: &mut u64, stop_at_comma: bool| {
        let mut depth = 0i32;
        let mut in_str = false;
        while *i < n {
            let b = buf[*i];
            if in_str {
                match b {
                    b'\\' => *i += 1,
                    b'"' => in_str = false,
                    b'\n' => *line += 1,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        if depth == 0 {
                            return;
                        }
                        depth -= 1;
                        if depth == 0 && !stop_at_comma {
                            *i += 1;
                            return;
                        }
                    }
                    b',' if depth == 0 && stop_at_comma => return,
                    b'\n' => *line += 1,
                    _ => {}
                }
            }
            *i += 1;
        }
    };
    skip_ws(&mut i, &mut line);
    if i < n && buf[i] == b'[' {
        i += 1;
        loop {
            skip_ws(&mut i, &mut line);
            if i >= n || buf[i] == b']' {
                i += 1;
                break;
            }
            let (start, start_line) = (i, line);
            scan_value(&mut i, &mut line, true);
            let mut end = i;
            while end > start && buf[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            out.push((start, end, start_line));
            if i < n && buf[i] == b',' {
                i += 1;
            }
        }
    }
    loop {
        skip_ws(&mut i, &mut line);
        if i >= n {
            break;
        }
        let (start, start_line) = (i, line);
        scan_value(&mut i, &mut line, false);
        if i == start {
            i += 1;
        }
        out.push((start, i.min(n), start_line));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_tables() {
        let t = |s: &str| table_from_file_name(Path::new(s));
        assert_eq!(t("x/DeviceProcessEvents.csv"), Some("DeviceProcessEvents".into()));
        assert_eq!(
            t("DeviceProcessEvents_2024-05-01.csv.gz"),
            Some("DeviceProcessEvents".into())
        );
        assert_eq!(t("My_Table_CL.json"), Some("My_Table_CL".into()));
    }

    #[test]
    fn documents_split_into_records() {
        let doc = b"[\n {\"a\": \"x,]}\"},\n {\"b\": [1,2]}\n]";
        let parts: Vec<_> = split_document(doc)
            .into_iter()
            .map(|(s, e, l)| (String::from_utf8_lossy(&doc[s..e]).into_owned(), l))
            .collect();
        assert_eq!(
            parts,
            vec![("{\"a\": \"x,]}\"}".into(), 2), ("{\"b\": [1,2]}".into(), 3)]
        );
        let doc = b"{\n \"records\": []\n}\n{\"x\":1}";
        assert_eq!(split_document(doc).len(), 2);
        let open = b"{\"a\": [1, 2";
        assert_eq!(split_document(open), vec![(0, open.len(), 1)]);
    }

    #[test]
    fn long_lines_are_cut_not_buffered() {
        let data = format!("{}\nshort\r\n", "x".repeat(1000));
        let mut r = std::io::Cursor::new(data.into_bytes());
        let mut buf = Vec::new();
        let p = Path::new("t");
        assert!(matches!(
            read_line_bounded(&mut r, &mut buf, 100, p).unwrap(),
            Line::TooLong { len: 1000 }
        ));
        assert_eq!(buf.len(), 100);
        buf.clear();
        assert!(matches!(
            read_line_bounded(&mut r, &mut buf, 100, p).unwrap(),
            Line::Complete
        ));
        assert_eq!(buf, b"short");
        assert!(matches!(
            read_line_bounded(&mut r, &mut buf, 100, p).unwrap(),
            Line::Eof
        ));
    }

    #[test]
    fn formats_are_sniffed_from_content() {
        let s = |text: &str| sniff(&mut std::io::Cursor::new(text.as_bytes().to_vec()), Path::new("t")).unwrap();
        assert_eq!(s("\u{feff}Timestamp,DeviceId\n"), Some(FileFormat::Csv));
        assert_eq!(s("  {\"a\":1}\n{\"a\":2}"), Some(FileFormat::JsonLines));
        assert_eq!(s("{\n  \"records\": ["), Some(FileFormat::JsonDocument));
        assert_eq!(s("[{\"a\":1}]"), Some(FileFormat::JsonDocument));
        assert_eq!(s("   \n"), None);
    }
}
