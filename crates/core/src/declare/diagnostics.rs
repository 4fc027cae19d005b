//! Diagnostics: every declaration error as `path:line:col: message` with a hint.
//!
//! Errors are found at byte offsets (TOML spans, offsets inside an expression or a query) and
//! shown at a line and a column in characters, counted in the real file, so an editor jumps to
//! the exact place even inside an SQL file's header.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem in a declaration, located in its file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    /// The file, relative to the repository root.
    pub path: PathBuf,
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub col: u32,
    /// What is wrong.
    pub message: String,
    /// How to fix it: the closest valid name, the valid values, an example.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    /// `path:line:col: message`, then `\n  hint: …` when there is a hint.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path.display(),
            self.line,
            self.col,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Byte offsets → line and column of one file.
#[derive(Clone, Debug)]
pub(crate) struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { line_starts }
    }

    /// 1-based line and character column of a byte offset (clamped to the text).
    pub(crate) fn position(&self, text: &str, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let col = text[self.line_starts[line]..offset].chars().count();
        (line as u32 + 1, col as u32 + 1)
    }

    /// The byte offset of a 1-based line and character column (clamped to the text).
    pub(crate) fn offset(&self, text: &str, line: u64, col: u64) -> usize {
        let line = (line.max(1) as usize - 1).min(self.line_starts.len() - 1);
        let start = self.line_starts[line];
        let rest = &text[start..];
        rest.char_indices()
            .nth(col.max(1) as usize - 1)
            .map_or(text.len(), |(i, _)| start + i)
    }
}

/// Where diagnostics about one file go: its text, how to locate offsets, the shared list.
pub(crate) struct FileSink<'a> {
    pub(crate) path: &'a Path,
    pub(crate) text: &'a str,
    pub(crate) index: LineIndex,
    /// Offset in the file of the TOML text being read (the header of an SQL file).
    pub(crate) base: usize,
    pub(crate) diagnostics: &'a mut Vec<Diagnostic>,
}

impl<'a> FileSink<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str, diagnostics: &'a mut Vec<Diagnostic>) -> Self {
        Self {
            path,
            text,
            index: LineIndex::new(text),
            base: 0,
            diagnostics,
        }
    }

    /// Reports at a byte offset of the file.
    pub(crate) fn at(&mut self, offset: usize, message: impl Into<String>, hint: Option<String>) {
        let (line, col) = self.index.position(self.text, offset);
        self.diagnostics.push(Diagnostic {
            path: self.path.to_path_buf(),
            line,
            col,
            message: message.into(),
            hint,
        });
    }

    /// The 1-based line and column of an offset of the TOML text being read.
    pub(crate) fn position(&self, offset: usize) -> (u32, u32) {
        self.index.position(self.text, self.base + offset)
    }

    /// Reports at the start of a span of the TOML text being read.
    pub(crate) fn span(
        &mut self,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.at(self.base + span.start, message, hint);
    }

    /// The file offset where the content of the TOML string at `span` starts, when the content
    /// is written literally (no escapes), so offsets inside the value map to the file exactly.
    pub(crate) fn string_content(&self, span: Range<usize>, value: &str) -> Option<usize> {
        let start = self.base + span.start;
        let raw = self.text.get(start..self.base + span.end)?;
        let quote = if raw.starts_with("\"\"\"") || raw.starts_with("'''") {
            3
        } else {
            1
        };
        if raw.len() < 2 * quote {
            return None;
        }
        let mut content = &raw[quote..raw.len() - quote];
        let mut skipped = 0;
        if quote == 3 {
            for newline in ["\r\n", "\n"] {
                if let Some(rest) = content.strip_prefix(newline) {
                    content = rest;
                    skipped = newline.len();
                    break;
                }
            }
        }
        (content == value).then_some(start + quote + skipped)
    }

    /// The file offset of a position inside a TOML string value (its start when the string
    /// uses escapes and the position cannot be mapped exactly).
    pub(crate) fn offset_in_string(&self, span: Range<usize>, value: &str, offset: usize) -> usize {
        match self.string_content(span.clone(), value) {
            Some(content) => content + offset,
            None => self.base + span.start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        let text = "ab\né x\n\nlast";
        let index = LineIndex::new(text);
        assert_eq!(index.position(text, 0), (1, 1));
        assert_eq!(index.position(text, 3), (2, 1));
        assert_eq!(index.position(text, 6), (2, 3)); // `x`, after a two-byte `é`
        assert_eq!(index.position(text, 8), (3, 1));
        assert_eq!(index.position(text, 100), (4, 5));
        assert_eq!(index.offset(text, 2, 3), 6);
        assert_eq!(index.offset(text, 4, 1), 9);
    }

    #[test]
    fn display_has_location_and_hint() {
        let diagnostic = Diagnostic {
            path: "assets/flights/x.sql".into(),
            line: 3,
            col: 7,
            message: "unknown asset `flights/daily_delay`".into(),
            hint: Some("did you mean `flights/daily_delays`?".into()),
        };
        assert_eq!(
            diagnostic.to_string(),
            "assets/flights/x.sql:3:7: unknown asset `flights/daily_delay`\n  \
             hint: did you mean `flights/daily_delays`?"
        );
    }

    #[test]
    fn maps_offsets_inside_literal_strings() {
        let text = "a = \"eager\"\nb = \"x\\ty\"\nc = '''\nmissing'''";
        let mut diagnostics = Vec::new();
        let sink = FileSink::new(Path::new("f.toml"), text, &mut diagnostics);
        assert_eq!(sink.string_content(4..11, "eager"), Some(5));
        assert_eq!(sink.offset_in_string(16..22, "x\ty", 2), 16);
        assert_eq!(sink.string_content(27..41, "missing"), Some(31));
    }
}
