//! The base protocol: `Content-Length` framed JSON-RPC messages, read so
//! that no input can stop the server.
//!
//! A message whose header is missing, malformed or announces more than
//! `MAX_BODY` bytes cannot be delimited; the reader reports it once and then
//! skips input until the next `Content-Length:` header (even one glued to
//! the end of the skipped body). A body that is not JSON, or is a JSON-RPC
//! batch (an array, which the language server protocol does not use), is
//! reported and dropped. Only the end of the input ends the stream.

use serde_json::Value;
use std::io::{self, BufRead, Write};

/// The largest message body accepted, in bytes.
pub const MAX_BODY: usize = 64 << 20;

/// The longest header line read before it is cut.
const MAX_HEADER_LINE: u64 = 4096;

/// JSON-RPC's code for a body that is not JSON (or cannot be framed).
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC's code for JSON that is not a request.
pub const INVALID_REQUEST: i64 = -32600;

/// One thing read from the client.
#[derive(Debug)]
pub enum Incoming {
    /// A JSON object: a request, a notification or a response.
    Message(Value),
    /// Input that is no message: the error code and what was wrong.
    Invalid(i64, String),
}

/// Reads framed messages from `R`.
pub struct Reader<R> {
    input: R,
    /// Skipping input after a bad header, until the next `Content-Length:`.
    resyncing: bool,
}

impl<R: BufRead> Reader<R> {
    /// A reader of the messages on `input`.
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input,
            resyncing: false,
        }
    }

    /// The next message, or `None` at the end of the input.
    pub fn next_message(&mut self) -> io::Result<Option<Incoming>> {
        let mut length: Option<Result<usize, String>> = None;
        loop {
            let Some(line) = self.header_line()? else {
                return Ok(None);
            };
            if let Some(k) = find_ignore_case(&line, "content-length:") {
                self.resyncing = false;
                length = Some(parse_length(line[k + 15..].trim()));
            } else if line.trim().is_empty() && !self.resyncing {
                let Some(length) = length.take() else {
                    self.resyncing = true;
                    return Ok(Some(invalid("a message without a Content-Length header")));
                };
                return match length {
                    Ok(n) => self.body(n),
                    Err(e) => {
                        self.resyncing = true;
                        Ok(Some(invalid(&e)))
                    }
                };
            } else if length.is_none() && !self.resyncing && !is_header(&line) {
                self.resyncing = true;
                return Ok(Some(invalid("input that is not a message header")));
            }
        }
    }

    /// One header line, without its line break, cut at `MAX_HEADER_LINE`.
    fn header_line(&mut self) -> io::Result<Option<String>> {
        let mut bytes = Vec::new();
        let mut limited = <&mut R as io::Read>::take(&mut self.input, MAX_HEADER_LINE);
        let n = limited.read_until(b'\n', &mut bytes)?;
        if n == 0 {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Reads a body of `n` bytes and decodes it.
    fn body(&mut self, n: usize) -> io::Result<Option<Incoming>> {
        let mut body = vec![0; n];
        match self.input.read_exact(&mut body) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        Ok(Some(match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Array(_)) => Incoming::Invalid(
                INVALID_REQUEST,
                "batches of messages are not supported; send one message at a time".to_string(),
            ),
            Ok(v @ Value::Object(_)) => Incoming::Message(v),
            Ok(_) => Incoming::Invalid(INVALID_REQUEST, "a message must be a JSON object".into()),
            Err(e) => Incoming::Invalid(PARSE_ERROR, format!("the message is not JSON: {e}")),
        }))
    }
}

fn invalid(what: &str) -> Incoming {
    Incoming::Invalid(PARSE_ERROR, format!("{what}; skipped to the next header"))
}

/// Whether a line looks like a `Name: value` header.
fn is_header(line: &str) -> bool {
    line.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    })
}

/// The byte index of `needle` (ASCII, lower case) in `line`, ignoring case.
fn find_ignore_case(line: &str, needle: &str) -> Option<usize> {
    line.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The value of a `Content-Length` header.
fn parse_length(value: &str) -> Result<usize, String> {
    match value.parse::<u64>() {
        Ok(n) if n <= MAX_BODY as u64 => Ok(n as usize),
        Ok(n) => Err(format!(
            "a Content-Length of {n} bytes, more than the {MAX_BODY} a message may have"
        )),
        Err(_) => Err(format!(
            "an invalid Content-Length `{}`",
            value.chars().take(40).collect::<String>()
        )),
    }
}

/// Writes one message with its header and flushes it.
pub fn send(out: &mut impl Write, message: &Value) -> io::Result<()> {
    let body = message.to_string();
    write!(out, "Content-Length: {}\r\n\r\n{body}", body.len())?;
    out.flush()
}

#[cfg(test)]
mod tests;
