//! RESP on the client side: request encoding and an incremental RESP2 reply
//! parser, written independently of core's so the two check each other.

/// One RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Simple(Vec<u8>),
    Error(Vec<u8>),
    Integer(i64),
    /// `None` is the null bulk `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `None` is the null array `*-1`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The reply as RESP2 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(text) => line(out, b'+', text),
            Reply::Error(text) => line(out, b'-', text),
            Reply::Integer(n) => line(out, b':', n.to_string().as_bytes()),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(bytes)) => {
                line(out, b'$', bytes.len().to_string().as_bytes());
                out.extend_from_slice(bytes);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                line(out, b'*', items.len().to_string().as_bytes());
                for item in items {
                    item.encode_into(out);
                }
            }
        }
    }
}

fn line(out: &mut Vec<u8>, prefix: u8, text: &[u8]) {
    out.push(prefix);
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// Appends `prefix`, the decimal digits of `n` and CRLF, without
/// allocating.
fn header(out: &mut Vec<u8>, prefix: u8, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.push(prefix);
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\n");
}

/// Appends `argv` as a RESP multibulk request.
pub fn encode_request(argv: &[Vec<u8>], out: &mut Vec<u8>) {
    header(out, b'*', argv.len());
    for arg in argv {
        header(out, b'$', arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// A reply that is not valid RESP2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedReply(pub String);

/// Limits on what the parser accepts from the server.
const NESTING_DEPTH_MAX: usize = 8;
const BULK_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Parses one reply from the start of `buf`: `Ok(Some((reply, consumed)))`,
/// `Ok(None)` if the reply is not complete yet.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, MalformedReply> {
    parse_at(buf, 0, 0)
}

fn find_line(buf: &[u8], start: usize) -> Option<usize> {
    buf.get(start..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|at| start + at)
}

fn parse_int(text: &[u8]) -> Result<i64, MalformedReply> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| MalformedReply(format!("bad integer {:?}", String::from_utf8_lossy(text))))
}

type Parsed = Result<Option<(Reply, usize)>, MalformedReply>;

fn parse_at(buf: &[u8], start: usize, depth: usize) -> Parsed {
    if depth > NESTING_DEPTH_MAX {
        return Err(MalformedReply("nesting too deep".into()));
    }
    let Some(&prefix) = buf.get(start) else {
        return Ok(None);
    };
    let Some(end) = find_line(buf, start + 1) else {
        return Ok(None);
    };
    let text = &buf[start + 1..end];
    let next = end + 2;
    match prefix {
        b'+' => Ok(Some((Reply::Simple(text.to_vec()), next))),
        b'-' => Ok(Some((Reply::Error(text.to_vec()), next))),
        b':' => Ok(Some((Reply::Integer(parse_int(text)?), next))),
        b'$' => parse_bulk(buf, parse_int(text)?, next),
        b'*' => parse_array(buf, parse_int(text)?, next, depth),
        other => Err(MalformedReply(format!("unexpected type byte {other:#x}"))),
    }
}

fn parse_bulk(buf: &[u8], length: i64, start: usize) -> Parsed {
    if length == -1 {
        return Ok(Some((Reply::Bulk(None), start)));
    }
    if length < 0 || length as usize > BULK_BYTES_MAX {
        return Err(MalformedReply(format!("bad bulk length {length}")));
    }
    let end = start + length as usize;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(MalformedReply("bulk not followed by CRLF".into()));
    }
    Ok(Some((Reply::Bulk(Some(buf[start..end].to_vec())), end + 2)))
}

fn parse_array(buf: &[u8], count: i64, start: usize, depth: usize) -> Parsed {
    if count == -1 {
        return Ok(Some((Reply::Array(None), start)));
    }
    if count < 0 {
        return Err(MalformedReply(format!("bad array length {count}")));
    }
    let mut items = Vec::with_capacity((count as usize).min(1024));
    let mut at = start;
    for _ in 0..count {
        match parse_at(buf, at, depth + 1)? {
            Some((item, next)) => {
                items.push(item);
                at = next;
            }
            None => return Ok(None),
        }
    }
    Ok(Some((Reply::Array(Some(items)), at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every split point of a nested reply yields "incomplete" until the
    /// last byte, then the whole reply.
    #[test]
    fn parses_incrementally() {
        let reply = Reply::Array(Some(vec![
            Reply::Bulk(Some(b"a\r\nb".to_vec())),
            Reply::Bulk(None),
            Reply::Integer(-3),
            Reply::Simple(b"OK".to_vec()),
            Reply::Error(b"ERR x".to_vec()),
            Reply::Array(None),
        ]));
        let bytes = reply.encode();
        for cut in 0..bytes.len() {
            assert_eq!(parse_reply(&bytes[..cut]).unwrap(), None, "cut {cut}");
        }
        assert_eq!(parse_reply(&bytes).unwrap(), Some((reply, bytes.len())));
    }

    /// Garbage is refused, not misread.
    #[test]
    fn refuses_garbage() {
        assert!(parse_reply(b"?x\r\n").is_err());
        assert!(parse_reply(b"$3\r\nabcd\r\n").is_err());
        assert!(parse_reply(b":1x\r\n").is_err());
    }

    /// Requests encode as multibulk.
    #[test]
    fn encodes_requests() {
        let mut out = Vec::new();
        encode_request(&[b"GET".to_vec(), b"k".to_vec()], &mut out);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
        out.clear();
        encode_request(&[vec![b'x'; 1234]], &mut out);
        assert!(out.starts_with(b"*1\r\n$1234\r\nxxx"));
    }
}
