//! The language-server target: a whole session fed to the server's message
//! loop in-process, through its reader and writer.
//!
//! An input that starts with `Content-Length` is the raw byte stream, so
//! mutations reach the framing (bad lengths, missing headers, truncated
//! bodies). Any other input is one message body per line, each framed with
//! its true length, so mutations reach the JSON and the handlers (bad JSON,
//! batches, unknown documents, positions out of range, non-ASCII text).
//!
//! Besides panics, the target fails if a handler panicked behind the
//! server's own guard, and, for framed lines, if the server stopped
//! answering: a `shutdown` request appended to every such session must get
//! its reply unless the session itself asked the server to exit.

/// The id of the request appended to a framed session.
const PROBE: &str = "fuzz-probe";

/// Runs one session; panics on a failure the target looks for.
pub fn session(input: &[u8]) {
    if starts_with_ignore_case(input, b"content-length") {
        let outcome = cdlc_cli::lsp::serve_on(input, std::io::sink());
        assert_eq!(outcome.caught_panics, 0, "a handler panicked");
        return;
    }
    let (stream, may_exit) = frame_lines(input);
    let mut out = Vec::new();
    let outcome = cdlc_cli::lsp::serve_on(stream.as_slice(), &mut out);
    assert_eq!(outcome.caught_panics, 0, "a handler panicked");
    if !may_exit {
        assert!(
            answered_probe(&out),
            "the server stopped answering before the last request ({:?})",
            outcome.result
        );
    }
}

/// Frames each line of `input` as one message and appends the probe;
/// whether some line may be an `exit` notification.
fn frame_lines(input: &[u8]) -> (Vec<u8>, bool) {
    let mut stream = Vec::with_capacity(input.len() + 64 * 8);
    let mut may_exit = false;
    let probe = format!(r#"{{"jsonrpc":"2.0","id":"{PROBE}","method":"shutdown"}}"#);
    let lines = input.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    for body in lines.chain(std::iter::once(probe.as_bytes())) {
        may_exit |= body.windows(4).any(|w| w == b"exit");
        stream.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        stream.extend_from_slice(body);
    }
    (stream, may_exit)
}

/// Whether the server's output holds a reply to the probe.
fn answered_probe(out: &[u8]) -> bool {
    let needle = format!(r#""id":"{PROBE}""#);
    out.windows(needle.len()).any(|w| w == needle.as_bytes())
}

fn starts_with_ignore_case(input: &[u8], prefix: &[u8]) -> bool {
    input.len() >= prefix.len() && input[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_framed_by_their_byte_length_and_the_probe_is_appended() {
        let (stream, may_exit) = frame_lines("{\"é\":1}\n\n[]".as_bytes());
        let text = String::from_utf8(stream).unwrap();
        assert!(text.starts_with("Content-Length: 8\r\n\r\n{\"é\":1}Content-Length: 2\r\n\r\n[]"));
        assert!(text.ends_with(r#""id":"fuzz-probe","method":"shutdown"}"#));
        assert!(!may_exit);
    }

    #[test]
    fn the_probe_is_answered_after_bad_messages_and_not_after_exit() {
        let bad =
            b"{\n[1,2]\n{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}\n";
        let (stream, _) = frame_lines(bad);
        let mut out = Vec::new();
        cdlc_cli::lsp::serve_on(stream.as_slice(), &mut out);
        assert!(answered_probe(&out));
        let exit = b"{\"jsonrpc\":\"2.0\",\"method\":\"exit\"}\n";
        let (stream, may_exit) = frame_lines(exit);
        let mut out = Vec::new();
        let outcome = cdlc_cli::lsp::serve_on(stream.as_slice(), &mut out);
        assert!(may_exit && outcome.result.is_err() && !answered_probe(&out));
    }
}
