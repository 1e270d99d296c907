//! Reading a move's inputs: LDIF streams read once, and source files split at record
//! boundaries so that their parts are scanned on all cores.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::input::{Loc, SourceScan, TargetIndex};
use super::transform::Transform;
use super::DitError;
use crate::ldif::Reader;

fn change_record(line: u64, dn: &str) -> DitError {
    DitError::ChangeRecord {
        line,
        dn: dn.to_string(),
    }
}

fn io(path: &Path, source: std::io::Error) -> DitError {
    DitError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The target's keys, from one pass over its LDIF.
pub(super) fn index_target<T: BufRead>(target: T) -> Result<TargetIndex, DitError> {
    let mut t = TargetIndex::default();
    let mut r = Reader::new(target);
    while let Some(rec) = r.next_ref()? {
        if rec.is_change() {
            return Err(change_record(rec.line(), rec.dn()));
        }
        // the lines once (the index looks at them several times)
        let lines: Vec<_> = rec.attributes().collect();
        t.add(rec.dn(), rec.line(), lines.iter().copied())?;
    }
    Ok(t)
}

/// One pass over the source (or a part of it starting at byte `base` of the file). With
/// `in_place` the moved entries stay in the file (their byte ranges are kept), otherwise
/// they are copied into the arena.
pub(super) fn scan_source<S: BufRead>(
    source: S,
    tr: &Transform,
    in_place: bool,
    base: u64,
) -> Result<SourceScan, DitError> {
    let mut s = SourceScan::new(tr);
    let mut r = Reader::new(source);
    let mut last = None;
    loop {
        let start = base + r.bytes_read();
        if let Some(kept) = last.take() {
            s.end_record(kept, start);
        }
        let Some(rec) = r.next_ref()? else { break };
        if rec.is_change() {
            return Err(change_record(rec.line(), rec.dn()));
        }
        let loc = if in_place {
            Loc::File(start)
        } else {
            Loc::Arena
        };
        let lines: Vec<_> = rec.attributes().collect();
        last = s.add(rec.dn(), rec.line(), lines.iter().copied(), loc, true)?;
    }
    if let Some(kept) = last {
        s.end_record(kept, base + r.bytes_read());
    }
    Ok(s)
}

/// The first record boundary at or after `pos`: the byte after a blank line (`\n\n` or
/// `\n\r\n`), or the end of the file.
fn boundary(f: &mut File, pos: u64, len: u64) -> std::io::Result<u64> {
    if pos == 0 || pos >= len {
        return Ok(pos.min(len));
    }
    // start two bytes early: `pos` may be right after a blank line, or within one
    let mut at = pos.saturating_sub(2);
    f.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; 1 << 16];
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(len);
        }
        let mut window = std::mem::take(&mut carry);
        let from = at - window.len() as u64;
        window.extend_from_slice(buf.get(..n).unwrap_or_default());
        for i in memchr::memchr_iter(b'\n', &window) {
            let next = window.get(i + 1..i + 3).unwrap_or_default();
            if next.first() == Some(&b'\n') {
                return Ok(from + i as u64 + 2);
            }
            if next == b"\r\n" {
                return Ok(from + i as u64 + 3);
            }
        }
        at += n as u64;
        // keep the tail: a blank line may straddle two reads
        carry = window
            .get(window.len().saturating_sub(2)..)
            .unwrap_or_default()
            .to_vec();
    }
}

/// Number of line ends before byte `end` of the file (to report lines of later parts).
fn lines_before(path: &Path, end: u64) -> Result<u64, DitError> {
    let mut f = File::open(path).map_err(|e| io(path, e))?.take(end);
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let got = f.read(&mut buf).map_err(|e| io(path, e))?;
        if got == 0 {
            return Ok(n);
        }
        n += memchr::memchr_iter(b'\n', buf.get(..got).unwrap_or_default()).count() as u64;
    }
}

/// `err` with its line numbers counted from the start of the file instead of the part.
fn shift_lines(err: DitError, by: u64) -> DitError {
    match err {
        DitError::Ldif(mut e) => {
            e.line += by;
            e.record_line = e.record_line.map(|l| l + by);
            DitError::Ldif(e)
        }
        DitError::ChangeRecord { line, dn } => DitError::ChangeRecord {
            line: line + by,
            dn,
        },
        DitError::Dn { line, dn, source } if line > 0 => DitError::Dn {
            line: line + by,
            dn,
            source,
        },
        other => other,
    }
}

/// Scans a source file in `parts` parts at once (split at record boundaries), keeping the
/// moved entries in place. Gives what one pass over the whole file gives, possibly with more
/// entries kept as candidates (a part does not know the domains of the parts before it),
/// which planning drops.
pub(super) fn scan_source_file(
    path: &Path,
    tr: &Transform,
    parts: usize,
) -> Result<SourceScan, DitError> {
    let mut f = File::open(path).map_err(|e| io(path, e))?;
    let len = f.metadata().map_err(|e| io(path, e))?.len();
    let parts = parts.clamp(1, 16) as u64;
    let mut bounds = vec![0u64];
    for i in 1..parts {
        let b = boundary(&mut f, len / parts * i, len).map_err(|e| io(path, e))?;
        if b > *bounds.last().unwrap_or(&0) && b < len {
            bounds.push(b);
        }
    }
    bounds.push(len);
    let ranges: Vec<(u64, u64)> = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    let scans: Vec<Result<SourceScan, DitError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ranges
            .iter()
            .map(|&(start, end)| {
                scope.spawn(move || {
                    let mut f = File::open(path).map_err(|e| io(path, e))?;
                    f.seek(SeekFrom::Start(start)).map_err(|e| io(path, e))?;
                    let part = BufReader::with_capacity(1 << 20, f.take(end - start));
                    scan_source(part, tr, true, start)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(io(path, std::io::Error::other("a scanning thread stopped")))
                })
            })
            .collect()
    });
    let mut merged: Option<SourceScan> = None;
    for (scan, &(start, _)) in scans.into_iter().zip(&ranges) {
        let scan = match scan {
            Ok(s) => s,
            Err(e) if start > 0 => return Err(shift_lines(e, lines_before(path, start)?)),
            Err(e) => return Err(e),
        };
        merged = Some(match merged {
            None => scan,
            Some(m) => m.append(scan),
        });
    }
    Ok(merged.unwrap_or_else(|| SourceScan::new(tr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries_fall_after_blank_lines() {
        let text = b"dn: cn=a\ncn: a\n\ndn: cn=b\r\ncn: b\r\n\r\ndn: cn=c\ncn: c\n";
        let p =
            std::env::temp_dir().join(format!("zimbra-prov-boundary-{}.ldif", std::process::id()));
        std::fs::write(&p, text).unwrap();
        let mut f = File::open(&p).unwrap();
        let len = text.len() as u64;
        assert_eq!(boundary(&mut f, 0, len).unwrap(), 0);
        assert_eq!(boundary(&mut f, 3, len).unwrap(), 16);
        assert_eq!(
            boundary(&mut f, 15, len).unwrap(),
            16,
            "between the two newlines"
        );
        assert_eq!(boundary(&mut f, 16, len).unwrap(), 16);
        assert_eq!(
            boundary(&mut f, 17, len).unwrap(),
            35,
            "after a CRLF blank line"
        );
        assert_eq!(boundary(&mut f, 36, len).unwrap(), len);
        std::fs::remove_file(&p).ok();
    }
}
