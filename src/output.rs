//! What a person reads: text made safe for a terminal, times and durations.
//!
//! Symbol names, exchange error bodies and everything else that comes from the network
//! may hold control characters (ESC, OSC, BEL, C1 such as U+009B) that move the cursor,
//! clear the screen or retitle a terminal. Every byte this program writes to stdout or
//! stderr goes through [`Safe`], which escapes them: `\u{1b}` in text, `\u001b` in JSON.
//! [`printable`] does the same for one string, and also escapes line breaks.

use std::borrow::Cow;
use std::io::{self, Write};

/// `text` with control characters (line breaks too) escaped (`\u{1b}`), so that a name
/// from the network cannot move the cursor, clear the screen, retitle the terminal or
/// forge a line.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if is_unsafe(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Control characters, and the invisible ones that reorder text (bidi overrides).
fn is_unsafe(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A writer that escapes control characters on their way to a terminal or a pipe: C0
/// but line feed and tab, DEL, and C1 (U+0080 to U+009F, two bytes in UTF-8). In text
/// they become `\u{1b}`; in JSON (where `serde_json` already escapes C0) `\u009b`.
///
/// A reader that went away (`universe show | head`) is not an error: the rest of the
/// output is dropped and the command ends with its own exit code.
#[derive(Debug)]
pub struct Safe<W: Write> {
    inner: W,
    json: bool,
    /// A 0xC2 byte whose second byte has not been written yet.
    pending_c2: bool,
    /// The reader closed the pipe.
    closed: bool,
}

impl<W: Write> Safe<W> {
    pub fn text(inner: W) -> Self {
        Self {
            inner,
            json: false,
            pending_c2: false,
            closed: false,
        }
    }

    pub fn json(inner: W) -> Self {
        Self {
            inner,
            json: true,
            pending_c2: false,
            closed: false,
        }
    }

    fn escape(&mut self, code: u32) -> io::Result<()> {
        let escaped = if self.json {
            format!("\\u{code:04x}")
        } else {
            format!("\\u{{{code:x}}}")
        };
        self.put(escaped.as_bytes())
    }

    /// Writes `bytes` on, unless the reader has gone.
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.closed || bytes.is_empty() {
            return Ok(());
        }
        match self.inner.write_all(bytes) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl<W: Write> Write for Safe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut start = 0;
        for (i, &byte) in buf.iter().enumerate() {
            if self.pending_c2 {
                self.pending_c2 = false;
                if (0x80..=0x9f).contains(&byte) {
                    self.escape(u32::from(byte))?;
                } else {
                    self.put(&[0xc2, byte])?;
                }
                start = i + 1;
                continue;
            }
            let c0 = byte < 0x20 && byte != b'\n' && byte != b'\t';
            if c0 || byte == 0x7f || byte == 0xc2 {
                self.put(&buf[start..i])?;
                start = i + 1;
                if byte == 0xc2 {
                    self.pending_c2 = true;
                } else {
                    self.escape(u32::from(byte))?;
                }
            }
        }
        self.put(&buf[start..])?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if std::mem::take(&mut self.pending_c2) {
            self.put(&[0xc2])?;
        }
        if self.closed {
            return Ok(());
        }
        match self.inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }
}

impl<W: Write> Drop for Safe<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Standard output, made safe.
pub fn stdout() -> Safe<io::StdoutLock<'static>> {
    Safe::text(io::stdout().lock())
}

/// Standard output for JSON, made safe.
pub fn stdout_json() -> Safe<io::StdoutLock<'static>> {
    Safe::json(io::stdout().lock())
}

/// Standard error, made safe.
pub fn stderr() -> Safe<io::StderrLock<'static>> {
    Safe::text(io::stderr().lock())
}

/// Writes one line to stderr, made safe; a closed stderr is ignored.
pub fn warn(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(stderr(), "{message}");
}

/// `eprintln!` through [`Safe`]: a line on stderr with control characters escaped.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => {
        $crate::output::warn(format_args!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_others_kept() {
        assert_eq!(printable("BTCUSDT"), "BTCUSDT");
        assert_eq!(printable("币安人生USDT"), "币安人生USDT");
        assert_eq!(printable("X\u{1b}[2JUSDT"), "X\\u{1b}[2JUSDT");
        assert_eq!(printable("A\nB"), "A\\u{a}B");
        assert_eq!(printable("A\u{9b}B\u{202e}"), "A\\u{9b}B\\u{202e}");
    }

    fn through_safe(json: bool, chunks: &[&[u8]]) -> String {
        let mut out = Vec::new();
        {
            let mut safe = if json {
                Safe::json(&mut out)
            } else {
                Safe::text(&mut out)
            };
            for chunk in chunks {
                safe.write_all(chunk).unwrap();
            }
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_safe_writer_escapes_c0_del_and_c1_even_across_writes() {
        let hostile = "a\u{1b}]0;pwned\u{7}b\u{9b}c\u{7f}d\ne\tfé币";
        assert_eq!(
            through_safe(false, &[hostile.as_bytes()]),
            "a\\u{1b}]0;pwned\\u{7}b\\u{9b}c\\u{7f}d\ne\tfé币"
        );
        // U+009B is 0xC2 0x9B: split between two writes, still caught
        let bytes = "x\u{9b}y".as_bytes();
        assert_eq!(
            through_safe(false, &[&bytes[..2], &bytes[2..]]),
            "x\\u{9b}y"
        );
        let json = serde_json::to_string(&"\u{9b}\u{1b}").unwrap();
        let out = through_safe(true, &[json.as_bytes()]);
        assert_eq!(out, r#""\u009b\u001b""#);
        assert_eq!(
            serde_json::from_str::<String>(&out).unwrap(),
            "\u{9b}\u{1b}"
        );
    }
}
