//! The wire protocol over a raw TcpStream: pipelining, inline commands, and
//! protocol errors that close one connection and leave the server serving.

use std::io::{Read, Write};
use std::net::TcpStream;

use redoubt_tests::{command, on_both, read_reply, show, Server};

/// Reads until EOF (bounded by the read timeout), for a closed connection.
fn read_to_close(stream: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (all, true),
            Ok(n) => all.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (all, true),
            Err(_) => return (all, false),
        }
    }
}

/// A fresh client still gets PONG.
fn assert_serving(server: &Server) {
    let mut other = server.connect();
    assert_eq!(command(&mut other, &["PING"]), b"+PONG\r\n");
}

// Many requests in one write are all answered, in order.
#[test]
fn pipelined_replies_in_order() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        let count = 500;
        let mut batch = Vec::new();
        for i in 0..count {
            let word = format!("msg-{i}");
            batch.extend_from_slice(&redoubt_tests::encode(&[b"ECHO", word.as_bytes()]));
        }
        stream.write_all(&batch).unwrap();
        let mut pending = Vec::new();
        for i in 0..count {
            let reply = read_reply(&mut stream, &mut pending).expect("reply");
            let word = format!("msg-{i}");
            let expected = format!("${}\r\n{word}\r\n", word.len());
            assert_eq!(show(&reply), show(expected.as_bytes()), "reply {i}");
        }
    });
}

// A request split into single bytes is still parsed as one request.
#[test]
fn request_split_byte_by_byte() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        for byte in b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n" {
            stream.write_all(&[*byte]).unwrap();
        }
        let mut pending = Vec::new();
        let reply = read_reply(&mut stream, &mut pending).unwrap();
        assert_eq!(reply, b"$5\r\nhello\r\n");
    });
}

// Inline commands (telnet style) work, several per write.
#[test]
fn inline_commands() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        stream.write_all(b"PING\r\nECHO \"two words\"\r\n").unwrap();
        let mut pending = Vec::new();
        let first = read_reply(&mut stream, &mut pending).unwrap();
        let second = read_reply(&mut stream, &mut pending).unwrap();
        assert_eq!(first, b"+PONG\r\n");
        assert_eq!(second, b"$9\r\ntwo words\r\n");
    });
}

// Inline SET/GET round trip (needs the strings family).
#[test]
fn inline_set_get() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        stream.write_all(b"SET a b\r\nGET a\r\n").unwrap();
        let mut pending = Vec::new();
        let first = read_reply(&mut stream, &mut pending).unwrap();
        let second = read_reply(&mut stream, &mut pending).unwrap();
        assert_eq!(show(&first), "+OK\\r\\n");
        assert_eq!(show(&second), "$1\\r\\nb\\r\\n");
    });
}

// A malformed multibulk gets a protocol error, then the connection closes;
// the server keeps serving other clients.
#[test]
fn malformed_request_closes_connection() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        stream.write_all(b"*1\r\n$x\r\n").unwrap();
        let (received, closed) = read_to_close(&mut stream);
        assert_eq!(
            show(&received),
            show(b"-ERR Protocol error: invalid bulk length\r\n")
        );
        assert!(closed, "connection must be closed after a protocol error");
        assert_serving(server);

        let mut stream = server.connect();
        stream.write_all(b"*abc\r\n").unwrap();
        let (received, closed) = read_to_close(&mut stream);
        assert_eq!(
            show(&received),
            show(b"-ERR Protocol error: invalid multibulk length\r\n")
        );
        assert!(closed);
        assert_serving(server);
    });
}

// A bulk length over proto-max-bulk-len is refused before any allocation.
#[test]
fn huge_bulk_length() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        stream.write_all(b"*1\r\n$2147483648\r\n").unwrap();
        let (received, closed) = read_to_close(&mut stream);
        assert_eq!(
            show(&received),
            show(b"-ERR Protocol error: invalid bulk length\r\n")
        );
        assert!(closed);
        assert_serving(server);
    });
}

// An inline request over 64 KiB without a newline is refused.
#[test]
fn inline_too_big() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        let junk = vec![b'a'; 70 * 1024];
        // The server may close before taking all of it.
        let _ = stream.write_all(&junk);
        let (received, closed) = read_to_close(&mut stream);
        assert!(
            received.starts_with(b"-ERR Protocol error: too big inline request"),
            "{}",
            show(&received)
        );
        assert!(closed);
        assert_serving(server);
    });
}

// Random garbage from many clients never takes the server down.
#[test]
fn garbage_does_not_crash() {
    on_both(&[], |server| {
        let mut state: u64 = 0x5eed;
        for _ in 0..50 {
            let mut stream = server.connect();
            let len = 1 + (next(&mut state) % 300) as usize;
            let mut junk: Vec<u8> = (0..len).map(|_| next(&mut state) as u8).collect();
            // Often start like a real request, to reach deeper parser states.
            if next(&mut state).is_multiple_of(2) {
                junk.splice(0..0, b"*3\r\n$3\r\nSET\r\n".iter().copied());
            }
            let _ = stream.write_all(&junk);
            drop(stream);
        }
        assert_serving(server);
    });
}

/// splitmix64.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

// A client that disconnects with replies pending does not disturb others.
#[test]
fn disconnect_with_pending_replies() {
    on_both(&[], |server| {
        for _ in 0..20 {
            let mut stream = server.connect();
            let mut batch = Vec::new();
            for _ in 0..1000 {
                batch.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
            }
            stream.write_all(&batch).unwrap();
            drop(stream);
        }
        assert_serving(server);
    });
}
