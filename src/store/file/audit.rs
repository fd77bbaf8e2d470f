//! The file store's audit trail: `audit.jsonl`, one entry a line, read back with the
//! lines another program garbled skipped, and a torn last line (a write a crash or a full
//! disk cut off) cut away before the next append.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, Seek as _, SeekFrom};
use std::path::Path;

use super::{AUDIT_FILE, FileStore};
use crate::error::StoreError;
use crate::store::{AuditLog, AuditPage, AuditRecord};

impl FileStore {
    /// The audit file's length once a torn last line (a write a crash or a full disk cut
    /// off, with no line feed) is cut away, saying so on stderr.
    pub(super) fn repair_torn_tail(
        &self,
        audit: &mut File,
        path: &Path,
    ) -> Result<u64, StoreError> {
        let io_error = |e: io::Error| self.error(format!("{}: {e}", path.display()));
        let len = audit.seek(SeekFrom::End(0)).map_err(io_error)?;
        let whole = whole_lines_len(audit, len).map_err(io_error)?;
        if whole < len {
            audit
                .set_len(whole)
                .and_then(|()| audit.sync_data())
                .map_err(io_error)?;
            crate::warn!(
                "universe: warning: {} ended in a torn line of {} bytes (a write was cut off); removed it",
                path.display(),
                len - whole
            );
        }
        Ok(whole)
    }
}

impl AuditLog for FileStore {
    fn recent_audit(&mut self, count: usize) -> Result<AuditPage, StoreError> {
        let mut trail = self.audit_trail()?;
        // the trail is read whole: every line counts as read, skipped or not
        let entries = trail.len().min(count);
        trail.reverse();
        trail.truncate(count);
        Ok(AuditPage {
            records: trail,
            entries,
        })
    }

    fn audit_trail(&mut self) -> Result<Vec<AuditRecord>, StoreError> {
        let path = self.dir.join(AUDIT_FILE);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(format!("reading {}: {e}", path.display()))),
        };
        let mut trail = Vec::new();
        let mut reader = BufReader::new(file);
        let mut line = Vec::new();
        for index in 0.. {
            line.clear();
            let read = reader
                .read_until(b'\n', &mut line)
                .map_err(|e| self.error(format!("reading {}: {e}", path.display())))?;
            if read == 0 {
                break;
            }
            if !line.ends_with(b"\n") {
                // a write cut off by a crash or a full disk: not an entry, and not damage
                crate::warn!(
                    "universe: warning: {} ends in a torn line of {read} bytes (a write was cut off); ignoring it, the next publish removes it",
                    path.display()
                );
                break;
            }
            if line.trim_ascii().is_empty() {
                continue;
            }
            // another program's line is skipped, never a reason to stop
            match serde_json::from_slice(&line) {
                Ok(fields) => trail.push(AuditRecord {
                    id: (index + 1).to_string(),
                    fields,
                }),
                Err(e) => crate::warn!(
                    "universe: warning: skipping audit entry {} ({} line {}): not an audit entry of text fields: {e}",
                    index + 1,
                    path.display(),
                    index + 1
                ),
            }
        }
        Ok(trail)
    }
}

/// The length of `file` up to and including its last line feed (0 when it has none).
fn whole_lines_len(file: &mut File, len: u64) -> io::Result<u64> {
    use std::io::Read as _;
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        end = start;
    }
    Ok(0)
}
