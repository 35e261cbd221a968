//! Writing replies straight into a client's output buffer, in the protocol
//! the client chose. Commands call these the way Redis calls `addReply*`:
//! RESP3 types (maps, sets, doubles, booleans, pushes, null) degrade to their
//! RESP2 shapes when the client speaks RESP2.

/// The protocol a client speaks: 2 by default, 3 after `HELLO 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}

impl Protocol {
    pub fn version(self) -> i64 {
        match self {
            Protocol::Resp2 => 2,
            Protocol::Resp3 => 3,
        }
    }
}

/// A client's pending output.
#[derive(Debug, Default)]
pub struct Out {
    pub buf: Vec<u8>,
    pub protocol: Protocol,
    /// Error replies written so far (INFO `total_error_replies`).
    pub errors: u64,
}

impl Out {
    pub fn new(protocol: Protocol) -> Self {
        Out {
            buf: Vec::new(),
            protocol,
            errors: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn resp3(&self) -> bool {
        self.protocol == Protocol::Resp3
    }

    fn line(&mut self, prefix: u8, text: &[u8]) {
        self.buf.push(prefix);
        self.buf.extend_from_slice(text);
        self.buf.extend_from_slice(b"\r\n");
    }

    fn header(&mut self, prefix: u8, n: i64) {
        self.buf.push(prefix);
        push_i64(&mut self.buf, n);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply: `+text`. Line breaks in `text` become spaces.
    pub fn simple(&mut self, text: &str) {
        let clean = text.replace(['\r', '\n'], " ");
        self.line(b'+', clean.as_bytes());
    }

    /// An error reply: `-CODE message`. `message` must start with its error
    /// code (`ERR`, `WRONGTYPE`, `MISCONF`, ...). Line breaks become spaces.
    pub fn error(&mut self, message: &str) {
        let clean = message.replace(['\r', '\n'], " ");
        self.line(b'-', clean.as_bytes());
        self.errors += 1;
    }

    /// `:n`
    pub fn int(&mut self, n: i64) {
        self.header(b':', n);
    }

    /// `$len\r\nbytes\r\n`
    pub fn bulk(&mut self, bytes: &[u8]) {
        self.header(b'$', bytes.len() as i64);
        self.buf.extend_from_slice(bytes);
        self.buf.extend_from_slice(b"\r\n");
    }

    /// An integer sent as a bulk string (Redis's `addReplyBulkLongLong`).
    pub fn bulk_i64(&mut self, n: i64) {
        let mut text = Vec::with_capacity(20);
        push_i64(&mut text, n);
        self.bulk(&text);
    }

    /// The null bulk: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        if self.resp3() {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"$-1\r\n");
        }
    }

    /// The null array: `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        if self.resp3() {
            self.buf.extend_from_slice(b"_\r\n");
        } else {
            self.buf.extend_from_slice(b"*-1\r\n");
        }
    }

    /// An array header; `n` elements must follow.
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n as i64);
    }

    /// A map header (`%n` in RESP3, a flat array of `2n` in RESP2); `n`
    /// key/value pairs must follow.
    pub fn map(&mut self, n: usize) {
        if self.resp3() {
            self.header(b'%', n as i64);
        } else {
            self.header(b'*', 2 * n as i64);
        }
    }

    /// A set header (`~n` in RESP3, an array in RESP2).
    pub fn set(&mut self, n: usize) {
        let prefix = if self.resp3() { b'~' } else { b'*' };
        self.header(prefix, n as i64);
    }

    /// An out-of-band push header (`>n` in RESP3, an array in RESP2), used by
    /// pub/sub messages.
    pub fn push(&mut self, n: usize) {
        let prefix = if self.resp3() { b'>' } else { b'*' };
        self.header(prefix, n as i64);
    }

    /// A double: `,text` in RESP3, a bulk string in RESP2.
    pub fn double(&mut self, value: f64) {
        let text = format_double(value);
        if self.resp3() {
            self.line(b',', text.as_bytes());
        } else {
            self.bulk(text.as_bytes());
        }
    }

    /// A boolean: `#t`/`#f` in RESP3, `:1`/`:0` in RESP2.
    pub fn boolean(&mut self, value: bool) {
        if self.resp3() {
            self.buf
                .extend_from_slice(if value { b"#t\r\n" } else { b"#f\r\n" });
        } else {
            self.int(value as i64);
        }
    }

    /// Verbatim text (`=len\r\ntxt:...` in RESP3, a bulk string in RESP2),
    /// as INFO and CLIENT LIST reply.
    pub fn verbatim(&mut self, text: &[u8]) {
        if self.resp3() {
            self.header(b'=', text.len() as i64 + 4);
            self.buf.extend_from_slice(b"txt:");
            self.buf.extend_from_slice(text);
            self.buf.extend_from_slice(b"\r\n");
        } else {
            self.bulk(text);
        }
    }
}

/// Formats a double as Redis replies with it: `inf`, `-inf`, `nan`, else the
/// shortest text that reads back to the same value, in plain notation for
/// ordinary magnitudes.
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        "nan".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if value != 0.0 && (value.abs() >= 1e17 || value.abs() < 1e-5) {
        format!("{value:e}").replace('e', "e+").replace("e+-", "e-")
    } else {
        format!("{value}")
    }
}

/// Appends the decimal text of `n`.
pub fn push_i64(buf: &mut Vec<u8>, n: i64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut rest = n.unsigned_abs();
    loop {
        i -= 1;
        digits[i] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if n < 0 {
        buf.push(b'-');
    }
    buf.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(write: impl Fn(&mut Out)) -> (String, String) {
        let mut two = Out::new(Protocol::Resp2);
        let mut three = Out::new(Protocol::Resp3);
        write(&mut two);
        write(&mut three);
        (
            String::from_utf8(two.buf).unwrap(),
            String::from_utf8(three.buf).unwrap(),
        )
    }

    // Each reply type's exact bytes in RESP2 and RESP3.
    #[test]
    fn encodings() {
        type Case = (Box<dyn Fn(&mut Out)>, &'static str, &'static str);
        let cases: Vec<Case> = vec![
            (Box::new(|o| o.ok()), "+OK\r\n", "+OK\r\n"),
            (Box::new(|o| o.int(-42)), ":-42\r\n", ":-42\r\n"),
            (
                Box::new(|o| o.int(i64::MIN)),
                ":-9223372036854775808\r\n",
                ":-9223372036854775808\r\n",
            ),
            (Box::new(|o| o.bulk(b"")), "$0\r\n\r\n", "$0\r\n\r\n"),
            (Box::new(|o| o.null()), "$-1\r\n", "_\r\n"),
            (Box::new(|o| o.null_array()), "*-1\r\n", "_\r\n"),
            (Box::new(|o| o.map(2)), "*4\r\n", "%2\r\n"),
            (Box::new(|o| o.set(3)), "*3\r\n", "~3\r\n"),
            (Box::new(|o| o.push(3)), "*3\r\n", ">3\r\n"),
            (Box::new(|o| o.double(1.5)), "$3\r\n1.5\r\n", ",1.5\r\n"),
            (
                Box::new(|o| o.double(f64::INFINITY)),
                "$3\r\ninf\r\n",
                ",inf\r\n",
            ),
            (Box::new(|o| o.boolean(true)), ":1\r\n", "#t\r\n"),
            (
                Box::new(|o| o.verbatim(b"a")),
                "$1\r\na\r\n",
                "=5\r\ntxt:a\r\n",
            ),
            (
                Box::new(|o| o.error("ERR bad\r\nthing")),
                "-ERR bad  thing\r\n",
                "-ERR bad  thing\r\n",
            ),
        ];
        for (write, two, three) in cases {
            assert_eq!(both(write), (two.to_string(), three.to_string()));
        }
    }

    // Doubles read back to the same value and use Redis's spellings.
    #[test]
    fn doubles() {
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(-0.5), "-0.5");
        assert_eq!(format_double(1e20), "1e+20");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        for value in [0.1, 1.0 / 3.0, 123456.789, 1e-7, 2.5e300] {
            assert_eq!(format_double(value).parse::<f64>().unwrap(), value);
        }
    }
}
