//! Incremental request parsing with Redis's limits and error strings.
//!
//! A request is either multibulk (`*<n>\r\n` followed by `n` bulk strings
//! `$<len>\r\n<bytes>\r\n`) or inline (one line of space-separated words with
//! Redis's quoting rules). The parser keeps its state between calls, so a
//! bulk arriving in many small reads is scanned once, and it never allocates
//! ahead of the bytes it has received: a header that claims a huge length
//! costs nothing until the bytes arrive.

/// Longest inline request, and longest `*`/`$` header line, Redis accepts
/// (PROTO_INLINE_MAX_SIZE).
pub const INLINE_BYTES_MAX: usize = 64 * 1024;
/// Largest multibulk argument count (INT_MAX in Redis).
pub const MULTIBULK_COUNT_MAX: i64 = i32::MAX as i64;
/// Limits Redis applies before a client has authenticated.
pub const UNAUTHENTICATED_MULTIBULK_COUNT_MAX: i64 = 10;
pub const UNAUTHENTICATED_BULK_BYTES_MAX: i64 = 16 * 1024;
/// Argument slots reserved ahead of arrival, whatever `*<n>` claims.
const ARGS_PREALLOCATED_MAX: usize = 1024;

/// What the parser needs to know about the server and the client.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`.
    pub bulk_bytes_max: i64,
    /// Whether the client has authenticated (or no password is required).
    pub authenticated: bool,
}

/// A malformed request. The text follows `-ERR ` in the reply; the server
/// closes the connection after sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(text: &str) -> Self {
        ProtocolError(format!("Protocol error: {text}"))
    }
}

/// Per-connection parser state, kept between reads.
#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments still to read in the current multibulk request; `None`
    /// between requests.
    args_remaining: Option<usize>,
    /// Length of the bulk being read once its `$` header has been parsed.
    bulk_len: Option<usize>,
    args: Vec<Vec<u8>>,
    /// Buffers of finished requests, reused for the next ones so a command
    /// costs no allocation for its arguments.
    spare_args: Vec<Vec<u8>>,
    spare_argv: Vec<Vec<u8>>,
}

/// Spare argument buffers kept per connection, and the largest one kept.
const SPARE_ARGS_MAX: usize = 32;
const SPARE_ARG_BYTES_MAX: usize = 16 * 1024;

impl RequestParser {
    /// Parses the next request from `buf[*pos..]`, advancing `*pos` past what
    /// it consumed. `Ok(None)` means more bytes are needed. A complete request
    /// may have no arguments (an empty inline line, `*0`); callers skip it.
    pub fn next_request(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
        limits: &ParseLimits,
    ) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
        if self.args_remaining.is_none() {
            if *pos >= buf.len() {
                return Ok(None);
            }
            if buf[*pos] != b'*' {
                return parse_inline(buf, pos);
            }
            if !self.parse_multibulk_header(buf, pos, limits)? {
                return Ok(None);
            }
        }
        while self.args_remaining.unwrap_or(0) > 0 {
            if !self.parse_bulk(buf, pos, limits)? {
                return Ok(None);
            }
        }
        self.args_remaining = None;
        Ok(Some(std::mem::take(&mut self.args)))
    }
    /// Takes back a request's arguments once it has been handled, keeping
    /// small buffers for the next requests.
    pub fn recycle(&mut self, mut argv: Vec<Vec<u8>>) {
        for arg in argv.drain(..) {
            if self.spare_args.len() < SPARE_ARGS_MAX && arg.capacity() <= SPARE_ARG_BYTES_MAX {
                self.spare_args.push(arg);
            }
        }
        if argv.capacity() <= ARGS_PREALLOCATED_MAX {
            self.spare_argv = argv;
        }
    }

    /// True while a multibulk request is partly read.
    pub fn in_request(&self) -> bool {
        self.args_remaining.is_some()
    }

    fn parse_multibulk_header(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
        limits: &ParseLimits,
    ) -> Result<bool, ProtocolError> {
        let Some(line) = header_line(buf, *pos, "too big mbulk count string")? else {
            return Ok(false);
        };
        let count = parse_i64(&buf[*pos + 1..line])
            .filter(|&n| n <= MULTIBULK_COUNT_MAX)
            .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
        if !limits.authenticated && count > UNAUTHENTICATED_MULTIBULK_COUNT_MAX {
            return Err(ProtocolError::new("unauthenticated multibulk length"));
        }
        *pos = line + 2;
        let count = count.max(0) as usize;
        self.args = std::mem::take(&mut self.spare_argv);
        self.args.reserve(count.min(ARGS_PREALLOCATED_MAX));
        self.args_remaining = Some(count);
        Ok(true)
    }

    /// Reads one bulk argument; false if more bytes are needed.
    fn parse_bulk(
        &mut self,
        buf: &[u8],
        pos: &mut usize,
        limits: &ParseLimits,
    ) -> Result<bool, ProtocolError> {
        let len = match self.bulk_len {
            Some(len) => len,
            None => {
                let Some(line) = header_line(buf, *pos, "too big bulk count string")? else {
                    return Ok(false);
                };
                if buf[*pos] != b'$' {
                    let got = buf[*pos] as char;
                    return Err(ProtocolError::new(&format!("expected '$', got '{got}'")));
                }
                let len = parse_i64(&buf[*pos + 1..line])
                    .filter(|&n| (0..=limits.bulk_bytes_max).contains(&n))
                    .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
                if !limits.authenticated && len > UNAUTHENTICATED_BULK_BYTES_MAX {
                    return Err(ProtocolError::new("unauthenticated bulk length"));
                }
                *pos = line + 2;
                self.bulk_len = Some(len as usize);
                len as usize
            }
        };
        if buf.len() - *pos < len + 2 {
            return Ok(false);
        }
        let mut arg = self.spare_args.pop().unwrap_or_default();
        arg.clear();
        arg.extend_from_slice(&buf[*pos..*pos + len]);
        self.args.push(arg);
        *pos += len + 2;
        self.bulk_len = None;
        self.args_remaining = self.args_remaining.map(|n| n - 1);
        Ok(true)
    }
}

/// Finds the `\r\n` ending the header line that starts at `start`. Returns
/// the index of `\r`, `None` if the line is incomplete, or `too_big` if no
/// line end appears within the inline limit.
fn header_line(buf: &[u8], start: usize, too_big: &str) -> Result<Option<usize>, ProtocolError> {
    let window = &buf[start..];
    match window.iter().position(|&b| b == b'\r') {
        Some(i) if i + 1 < window.len() => Ok(Some(start + i)),
        Some(_) => Ok(None),
        None if window.len() > INLINE_BYTES_MAX => Err(ProtocolError::new(too_big)),
        None => Ok(None),
    }
}

/// Redis's string2ll: an optional `-`, digits, no spaces, no `+`, no leading
/// zeros, fits in i64.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, text),
    };
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || negative) {
        return None;
    }
    let mut value: i64 = 0;
    for &digit in digits {
        if !digit.is_ascii_digit() {
            return None;
        }
        let d = (digit - b'0') as i64;
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(d)?
        } else {
            value.checked_add(d)?
        };
    }
    Some(value)
}

fn parse_inline(buf: &[u8], pos: &mut usize) -> Result<Option<Vec<Vec<u8>>>, ProtocolError> {
    let window = &buf[*pos..];
    let Some(newline) = window.iter().position(|&b| b == b'\n') else {
        if window.len() > INLINE_BYTES_MAX {
            return Err(ProtocolError::new("too big inline request"));
        }
        return Ok(None);
    };
    let mut line = &window[..newline];
    if let [head @ .., b'\r'] = line {
        line = head;
    }
    let args =
        split_args(line).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
    *pos += newline + 1;
    Ok(Some(args))
}

/// Splits an inline line into arguments the way redis-cli and Redis's inline
/// protocol do: whitespace separates words; `"..."` takes escapes (`\n`,
/// `\r`, `\t`, `\b`, `\a`, `\\`, `\"`, `\xHH`); `'...'` takes only `\'`. A
/// closing quote must be followed by whitespace or the end. `None` on
/// unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let (arg, next) = split_one(line, i)?;
        args.push(arg);
        i = next;
    }
}

fn split_one(line: &[u8], mut i: usize) -> Option<(Vec<u8>, usize)> {
    let mut arg = Vec::new();
    let mut quote: Option<u8> = None;
    loop {
        let Some(&c) = line.get(i) else {
            return quote.is_none().then_some((arg, i));
        };
        match quote {
            None if c.is_ascii_whitespace() => return Some((arg, i)),
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None => arg.push(c),
            Some(q) if c == q => {
                let after = line.get(i + 1);
                if after.is_some_and(|b| !b.is_ascii_whitespace()) {
                    return None;
                }
                return Some((arg, i + 1));
            }
            Some(b'"') if c == b'\\' && i + 1 < line.len() => {
                i += 1;
                i += push_escape(line, i, &mut arg);
                continue;
            }
            Some(_) if c == b'\\' && line.get(i + 1) == Some(&b'\'') => {
                arg.push(b'\'');
                i += 2;
                continue;
            }
            Some(_) => arg.push(c),
        }
        i += 1;
    }
}

/// Decodes the escape whose letter is at `line[i]`; returns bytes consumed.
fn push_escape(line: &[u8], i: usize, arg: &mut Vec<u8>) -> usize {
    let c = line[i];
    if c == b'x' && i + 2 < line.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if let (Some(high), Some(low)) = (hex(line[i + 1]), hex(line[i + 2])) {
            arg.push((high * 16 + low) as u8);
            return 3;
        }
    }
    arg.push(match c {
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'b' => 0x08,
        b'a' => 0x07,
        other => other,
    });
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: ParseLimits = ParseLimits {
        bulk_bytes_max: 512 * 1024 * 1024,
        authenticated: true,
    };

    fn parse_all(input: &[u8], limits: &ParseLimits) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut parser = RequestParser::default();
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some(args) = parser.next_request(input, &mut pos, limits)? {
            out.push(args);
        }
        Ok(out)
    }

    fn words(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|w| w.as_bytes().to_vec()).collect()
    }

    // Pipelined multibulk and inline requests parse in order.
    #[test]
    fn pipelined_requests() {
        let input = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n*1\r\n$4\r\nPING\r\n";
        let got = parse_all(input, &OPEN).unwrap();
        assert_eq!(
            got,
            vec![words(&["GET", "k"]), words(&["PING"]), words(&["PING"])]
        );
    }

    // A request split at every byte boundary parses the same as in one piece.
    #[test]
    fn byte_by_byte() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n";
        let mut parser = RequestParser::default();
        let mut buf = Vec::new();
        let mut pos = 0;
        let mut result = None;
        for &b in input.iter() {
            buf.push(b);
            if let Some(args) = parser.next_request(&buf, &mut pos, &OPEN).unwrap() {
                result = Some(args);
            }
        }
        assert_eq!(result.unwrap(), words(&["SET", "key", "va\r\nl"]));
        assert_eq!(pos, input.len());
    }

    // Redis's error strings for each malformed header.
    #[test]
    fn protocol_errors() {
        let cases: &[(&[u8], &str)] = &[
            (b"*x\r\n", "Protocol error: invalid multibulk length"),
            (
                b"*3000000000\r\n",
                "Protocol error: invalid multibulk length",
            ),
            (b"*1\r\nfoo\r\n", "Protocol error: expected '$', got 'f'"),
            (b"*1\r\n$-1\r\n", "Protocol error: invalid bulk length"),
            (
                b"*1\r\n$536870913\r\n",
                "Protocol error: invalid bulk length",
            ),
            (b"*1\r\n$01\r\n", "Protocol error: invalid bulk length"),
            (
                b"SET \"abc\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
            (
                b"SET \"abc\"x\r\n",
                "Protocol error: unbalanced quotes in request",
            ),
        ];
        for (input, error) in cases {
            assert_eq!(parse_all(input, &OPEN).unwrap_err().0, *error, "{input:?}");
        }
    }

    // Lines with no end are refused once they pass the inline limit.
    #[test]
    fn oversized_lines() {
        let mut inline = vec![b'a'; INLINE_BYTES_MAX + 1];
        assert_eq!(
            parse_all(&inline, &OPEN).unwrap_err().0,
            "Protocol error: too big inline request"
        );
        inline.truncate(INLINE_BYTES_MAX);
        assert_eq!(
            parse_all(&inline, &OPEN).unwrap(),
            Vec::<Vec<Vec<u8>>>::new()
        );
        let mut header = b"*1".to_vec();
        header.extend(vec![b'1'; INLINE_BYTES_MAX]);
        assert_eq!(
            parse_all(&header, &OPEN).unwrap_err().0,
            "Protocol error: too big mbulk count string"
        );
        let mut bulk = b"*1\r\n$1".to_vec();
        bulk.extend(vec![b'1'; INLINE_BYTES_MAX]);
        assert_eq!(
            parse_all(&bulk, &OPEN).unwrap_err().0,
            "Protocol error: too big bulk count string"
        );
    }

    // A huge claimed count or length allocates nothing until bytes arrive.
    #[test]
    fn huge_claims_allocate_lazily() {
        let mut parser = RequestParser::default();
        let mut pos = 0;
        let input = b"*2000000000\r\n$536870912\r\nab";
        assert_eq!(parser.next_request(input, &mut pos, &OPEN).unwrap(), None);
        assert!(parser.args.capacity() <= ARGS_PREALLOCATED_MAX);
        assert!(parser.in_request());
    }

    // Before AUTH, Redis caps multibulk counts at 10 and bulks at 16 KiB.
    #[test]
    fn unauthenticated_limits() {
        let locked = ParseLimits {
            authenticated: false,
            ..OPEN
        };
        assert_eq!(
            parse_all(b"*11\r\n", &locked).unwrap_err().0,
            "Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$16385\r\n", &locked).unwrap_err().0,
            "Protocol error: unauthenticated bulk length"
        );
        assert!(parse_all(b"*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n", &locked).is_ok());
    }

    // Inline quoting follows redis-cli's rules.
    #[test]
    fn inline_quoting() {
        let got = parse_all(b"set \"a b\\x41\\n\" 'it\\'s'  \r\n\r\n", &OPEN).unwrap();
        assert_eq!(
            got[0],
            vec![b"set".to_vec(), b"a bA\n".to_vec(), b"it's".to_vec()]
        );
        assert!(got[1].is_empty());
        assert_eq!(split_args(b"\"\"").unwrap(), vec![Vec::<u8>::new()]);
    }

    // string2ll's strictness.
    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"+1", b" 1", b"01", b"-0", b"1.0"] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
        assert_eq!(parse_i64(b"0"), Some(0));
    }
}
