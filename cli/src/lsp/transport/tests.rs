//! The reader on well-formed, malformed and oversized input.

use super::{INVALID_REQUEST, Incoming, PARSE_ERROR, Reader};

fn read_all(input: &str) -> Vec<Result<String, i64>> {
    let mut reader = Reader::new(input.as_bytes());
    let mut out = Vec::new();
    while let Some(m) = reader.next_message().expect("reading memory") {
        out.push(match m {
            Incoming::Message(v) => Ok(v["method"].as_str().unwrap_or("").to_string()),
            Incoming::Invalid(code, _) => Err(code),
        });
    }
    out
}

fn frame(body: &str) -> String {
    format!("Content-Length: {}\r\n\r\n{body}", body.len())
}

const PING: &str = r#"{"jsonrpc":"2.0","method":"ping"}"#;

#[test]
fn well_formed_messages_are_read_in_order() {
    let input = format!("{}{}", frame(PING), frame(r#"{"method":"pong"}"#));
    assert_eq!(
        read_all(&input),
        [Ok("ping".to_string()), Ok("pong".to_string())]
    );
}

#[test]
fn a_huge_or_invalid_length_is_reported_once_and_reading_goes_on() {
    for bad in ["10000000000", "-5", "ten", ""] {
        let input = format!("Content-Length: {bad}\r\n\r\n{PING}{}", frame(PING));
        assert_eq!(
            read_all(&input),
            [Err(PARSE_ERROR), Ok("ping".to_string())],
            "{bad}"
        );
    }
}

#[test]
fn bad_bodies_and_batches_are_reported_and_reading_goes_on() {
    let input = [frame("{not json"), frame("[1, 2]"), frame("3"), frame(PING)].concat();
    assert_eq!(
        read_all(&input),
        [
            Err(PARSE_ERROR),
            Err(INVALID_REQUEST),
            Err(INVALID_REQUEST),
            Ok("ping".to_string())
        ]
    );
}

#[test]
fn garbage_and_a_missing_header_are_skipped() {
    let input = format!("garbage line\nmore\r\n\r\n{}\r\n\r\n{}", PING, frame(PING));
    assert_eq!(read_all(&input), [Err(PARSE_ERROR), Ok("ping".to_string())]);
    let headerless = format!("Content-Type: x\r\n\r\n{PING}{}", frame(PING));
    assert_eq!(
        read_all(&headerless),
        [Err(PARSE_ERROR), Ok("ping".to_string())]
    );
}

#[test]
fn a_body_cut_short_ends_the_stream() {
    assert_eq!(read_all("Content-Length: 100\r\n\r\n{}"), []);
}

proptest::proptest! {
    /// Any bytes at all are read to their end without a panic.
    #[test]
    fn any_input_is_read_to_its_end(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..400)) {
        let mut reader = Reader::new(bytes.as_slice());
        let mut count = 0;
        while let Some(m) = reader.next_message().expect("reading memory") {
            if let Incoming::Message(v) = m {
                proptest::prop_assert!(v.is_object());
            }
            count += 1;
            proptest::prop_assert!(count <= bytes.len() + 1);
        }
    }

    /// After garbage that holds no header, the next framed message is read.
    #[test]
    fn a_message_after_garbage_is_read(garbage in "[^C\\r\\n]{0,60}(\\r?\\n[^C\\r\\n]{0,60}){0,4}") {
        let input = format!("{garbage}\r\n\r\n{}", frame(PING));
        let read = read_all(&input);
        proptest::prop_assert_eq!(read.last(), Some(&Ok("ping".to_string())));
        proptest::prop_assert!(read[..read.len() - 1].iter().all(|r| r.is_err()));
    }
}
