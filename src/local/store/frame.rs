//! How the state file and its log lines are framed on disk, so that every byte read back is
//! checked: a snapshot is a header line (`{"format":3,"crc32":"…","bytes":N}`) and then the
//! state's JSON, exactly N bytes whose CRC-32 the header gives; a log line is the CRC-32 of its
//! JSON in 8 hex digits, a space, the JSON and a newline. A changed, lost or added byte fails
//! the check, wherever it is.

use serde::{Deserialize, Serialize};

use super::FORMAT;

/// The header of a framed snapshot.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: u32,
    crc32: String,
    bytes: u64,
}

/// Why framed bytes were refused: the line (of the file) and what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    pub line: usize,
    pub what: String,
}

fn checksum(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

/// A snapshot file's bytes: header line and state.
#[must_use]
pub fn snapshot(state_json: &[u8]) -> Vec<u8> {
    let header = Header {
        format: FORMAT,
        crc32: format!("{:08x}", checksum(state_json)),
        bytes: state_json.len() as u64,
    };
    let mut out = serde_json::to_vec(&header).expect("a header serializes");
    out.push(b'\n');
    out.extend_from_slice(state_json);
    out
}

/// What a state file holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Snapshot<'a> {
    /// A framed snapshot's state JSON (line 2 of the file), checked whole.
    Framed(&'a [u8]),
    /// A file of format 1 or 2, written before snapshots were framed: unchecked JSON.
    Legacy(&'a [u8]),
}

/// Opens a state file's bytes: a framed snapshot is checked against its header; anything else
/// is taken as a file of an earlier format (its own reading checks its `format`).
pub fn open_snapshot(file: &[u8]) -> Result<Snapshot<'_>, Damage> {
    let Some(end) = file.iter().position(|&b| b == b'\n') else {
        return Ok(Snapshot::Legacy(file));
    };
    let (first, rest) = (&file[..end], &file[end + 1..]);
    if !first.windows(7).any(|w| w == b"\"crc32\"") {
        return Ok(Snapshot::Legacy(file));
    }
    let damage = |line, what: String| Damage { line, what };
    let header: Header = serde_json::from_slice(first)
        .map_err(|e| damage(1, format!("its header is unreadable: {e}")))?;
    if header.format != FORMAT {
        return Err(damage(
            1,
            format!("its header says format {}", header.format),
        ));
    }
    if rest.len() as u64 != header.bytes {
        return Err(damage(
            2,
            format!(
                "the state is {} bytes where its header says {}: cut short or added to",
                rest.len(),
                header.bytes
            ),
        ));
    }
    let computed = format!("{:08x}", checksum(rest));
    if computed != header.crc32 {
        return Err(damage(
            2,
            format!(
                "the state fails its checksum (CRC-32 {computed}, its header says {}): a byte of it changed after it was written",
                header.crc32
            ),
        ));
    }
    Ok(Snapshot::Framed(rest))
}

/// A log line's bytes for `json`, newline included.
#[must_use]
pub fn line(json: &[u8]) -> Vec<u8> {
    let mut out = format!("{:08x} ", checksum(json)).into_bytes();
    out.extend_from_slice(json);
    out.push(b'\n');
    out
}

/// What a log line (without its newline) holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A framed line's JSON, checked.
    Framed(&'a [u8]),
    /// A line written before lines were framed: unchecked JSON.
    Legacy(&'a [u8]),
}

/// Opens one log line (without its newline): a framed line is checked against its checksum.
pub fn open_line(line: &[u8]) -> Result<Line<'_>, String> {
    if line.first() == Some(&b'{') {
        return Ok(Line::Legacy(line));
    }
    let (Some(stored), Some(b' ')) = (line.get(..8), line.get(8)) else {
        return Err("it has no checksum (8 hex digits and a space) before its JSON".to_owned());
    };
    let json = &line[9..];
    let computed = format!("{:08x}", checksum(json));
    if computed.as_bytes() != stored {
        return Err(format!(
            "it fails its checksum (CRC-32 {computed}, the line says {}): a byte of it changed after it was written",
            String::from_utf8_lossy(stored).escape_debug()
        ));
    }
    Ok(Line::Framed(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_opens_whole_and_any_changed_byte_is_refused() {
        let state = br#"{"format":3,"things":{"pump-01":{}}}"#;
        let file = snapshot(state);
        assert_eq!(open_snapshot(&file), Ok(Snapshot::Framed(&state[..])));
        let header_len = file.iter().position(|&b| b == b'\n').unwrap() + 1;
        for at in header_len..file.len() {
            let mut damaged = file.clone();
            damaged[at] ^= 0x20;
            let refused = open_snapshot(&damaged).unwrap_err();
            assert_eq!(refused.line, 2, "byte {at}");
        }
        let cut = &file[..file.len() - 1];
        assert!(open_snapshot(cut).unwrap_err().what.contains("cut short"));
        let legacy = br#"{"format":2,"things":{}}"#;
        assert_eq!(open_snapshot(legacy), Ok(Snapshot::Legacy(&legacy[..])));
    }

    #[test]
    fn a_line_opens_whole_and_any_changed_byte_is_refused() {
        let json = br#"{"seq":12,"things":[["pump-01",null]]}"#;
        let framed = line(json);
        assert_eq!(framed.last(), Some(&b'\n'));
        let body = &framed[..framed.len() - 1];
        assert_eq!(open_line(body), Ok(Line::Framed(&json[..])));
        for at in 0..body.len() {
            let mut damaged = body.to_vec();
            damaged[at] ^= 0x01;
            assert!(open_line(&damaged).is_err(), "byte {at}");
        }
        // Two lines run together fail the first one's checksum.
        let mut merged = body.to_vec();
        merged.extend_from_slice(body);
        assert!(open_line(&merged).is_err());
        assert_eq!(open_line(&json[..]), Ok(Line::Legacy(&json[..])));
    }
}
