//! What the oracle and its worker process say to each other.
//!
//! Request (stdin): a little-endian `u32` count of parts, then each part as a `u32`
//! length and its bytes; the last part is the input, the others the bases imported before
//! it. Answers (stdout): one line per event, each starting with [`PREFIX`] so that other
//! output on the same stream (a test harness's banner) is ignored. Free text is hex, so
//! every answer is one line.

use std::io::{self, Read, Write};

use crate::ingest::{Outcome, Stage};

/// Starts every line the worker writes for the oracle.
pub(super) const PREFIX: &str = "codesync-oracle ";

/// A request's parts are bounded so a damaged stream cannot make the worker allocate
/// without limit.
const MAX_PART: usize = 64 << 20;
const MAX_PARTS: usize = 1 << 16;

pub(super) fn write_request(to: &mut impl Write, bases: &[&[u8]], input: &[u8]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(input.len() + 64);
    let count = u32::try_from(bases.len() + 1).map_err(|_| invalid("too many bases"))?;
    buf.extend_from_slice(&count.to_le_bytes());
    for part in bases.iter().copied().chain([input]) {
        let len = u32::try_from(part.len()).map_err(|_| invalid("part over 4 GiB"))?;
        buf.extend_from_slice(&len.to_le_bytes());
        buf.extend_from_slice(part);
    }
    to.write_all(&buf)?;
    to.flush()
}

/// Reads one request; `None` at a clean end of the stream.
pub(super) fn read_request(from: &mut impl Read) -> io::Result<Option<Vec<Vec<u8>>>> {
    let mut word = [0; 4];
    match from.read_exact(&mut word) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let count = u32::from_le_bytes(word) as usize;
    if count == 0 || count > MAX_PARTS {
        return Err(invalid("bad part count"));
    }
    let mut parts = Vec::with_capacity(count);
    for _ in 0..count {
        from.read_exact(&mut word)?;
        let len = u32::from_le_bytes(word) as usize;
        if len > MAX_PART {
            return Err(invalid("part too large"));
        }
        let mut part = vec![0; len];
        from.read_exact(&mut part)?;
        parts.push(part);
    }
    Ok(Some(parts))
}

/// The line announcing `stage`.
pub(super) fn stage_line(stage: Stage) -> String {
    format!("{PREFIX}stage {}\n", stage.name())
}

/// The line reporting `outcome`.
pub(super) fn outcome_line(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok { text } => format!("{PREFIX}ok {}\n", hex(text.as_bytes())),
        Outcome::Refused { stage, error } => {
            format!("{PREFIX}refused {stage} {}\n", hex(error.as_bytes()))
        }
        Outcome::Panicked { stage, message } => {
            format!("{PREFIX}panicked {stage} {}\n", hex(message.as_bytes()))
        }
    }
}

/// An answer line, parsed.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    Stage(Stage),
    Done(Outcome),
}

/// Parses a line; `None` for lines that are not the worker's (or are damaged).
pub(super) fn parse_line(line: &str) -> Option<Event> {
    let rest = line.trim_end().strip_prefix(PREFIX)?;
    let mut words = rest.split(' ');
    let kind = words.next()?;
    if kind == "ok" {
        let text = unhex_text(words.next().unwrap_or_default())?;
        return Some(Event::Done(Outcome::Ok { text }));
    }
    let stage = Stage::from_name(words.next()?)?;
    let mut text = || unhex_text(words.next().unwrap_or_default());
    match kind {
        "stage" => Some(Event::Stage(stage)),
        "refused" => Some(Event::Done(Outcome::Refused {
            stage,
            error: text()?,
        })),
        "panicked" => Some(Event::Done(Outcome::Panicked {
            stage,
            message: text()?,
        })),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex_text(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = hex
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect();
    Some(String::from_utf8_lossy(&bytes?).into_owned())
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_lines_round_trip() {
        let mut wire = Vec::new();
        write_request(&mut wire, &[b"base"], b"input").expect("write");
        let parts = read_request(&mut wire.as_slice()).expect("read");
        assert_eq!(parts, Some(vec![b"base".to_vec(), b"input".to_vec()]));
        assert_eq!(read_request(&mut [].as_slice()).expect("eof"), None);

        for outcome in [
            Outcome::Ok {
                text: "a b\nü".into(),
            },
            Outcome::Ok { text: "".into() },
            Outcome::Refused {
                stage: Stage::Import,
                error: "bad".into(),
            },
            Outcome::Panicked {
                stage: Stage::ReadReloaded,
                message: "boom\n".into(),
            },
        ] {
            assert_eq!(
                parse_line(&outcome_line(&outcome)),
                Some(Event::Done(outcome))
            );
        }
        assert_eq!(
            parse_line(&stage_line(Stage::Drop)),
            Some(Event::Stage(Stage::Drop))
        );
        assert_eq!(parse_line("running 1 test"), None);
    }
}
