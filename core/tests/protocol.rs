//! The request path through a node: parsing limits, protocol errors and
//! closing, pipelining, RESP3 negotiation, and reply release at
//! `before_sleep` only.

use redoubt_core::config::Config;
use redoubt_core::testing::TestNode;

// Replies wait in the node until before_sleep releases them.
#[test]
fn replies_leave_only_at_before_sleep() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.node.on_bytes(c, b"PING\r\n");
    assert!(t.node.env().sent.is_empty());
    t.node.before_sleep();
    assert_eq!(t.node.env().sent[&c], b"+PONG\r\n");
}

// Pipelined multibulk and inline requests are answered in order.
#[test]
fn pipelining_answers_in_order() {
    let mut t = TestNode::new();
    let c = t.connect();
    let reply = t.raw(
        c,
        b"*1\r\n$4\r\nPING\r\nECHO hello\r\n*2\r\n$4\r\nECHO\r\n$3\r\na b\r\nPING \"x y\"\r\n",
    );
    assert_eq!(reply, b"+PONG\r\n$5\r\nhello\r\n$3\r\na b\r\n$3\r\nx y\r\n");
}

// A request split into single bytes still parses.
#[test]
fn request_split_byte_by_byte() {
    let mut t = TestNode::new();
    let c = t.connect();
    let mut got = Vec::new();
    for byte in b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n" {
        got.extend(t.raw(c, &[*byte]));
    }
    assert_eq!(got, b"$2\r\nhi\r\n");
}

// A malformed request gets Redis's error, commands before it still run, and
// the connection closes; other clients are unaffected.
#[test]
fn protocol_error_closes_connection() {
    let mut t = TestNode::new();
    let bad = t.connect();
    let good = t.connect();
    let reply = t.raw(bad, b"PING\r\n*1\r\nxyz\r\nPING\r\n");
    assert_eq!(
        reply,
        b"+PONG\r\n-ERR Protocol error: expected '$', got 'x'\r\n"
    );
    assert_eq!(t.node.env().closed, vec![bad]);
    assert_eq!(t.cmd(good, &["PING"]), "+PONG\r\n");
    assert_eq!(t.raw(bad, b"PING\r\n"), b"");
}

// Oversized bulk lengths are refused with proto-max-bulk-len's error.
#[test]
fn bulk_length_limit() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(
        t.raw(c, b"*1\r\n$536870913\r\n"),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
    let mut config = Config::default();
    config.set("proto-max-bulk-len", "1mb").unwrap();
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    assert_eq!(
        t.raw(c, b"*1\r\n$1048577\r\n"),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
}

// A client whose unparsed input passes client-query-buffer-limit is closed
// without a reply, and memory is released.
#[test]
fn query_buffer_limit_closes_client() {
    let mut config = Config::default();
    config.set("client-query-buffer-limit", "1mb").unwrap();
    let mut t = TestNode::with_config(config);
    let c = t.connect();
    let chunk = vec![b'a'; 64 * 1024];
    let mut reply = t.raw(c, b"*2\r\n$4\r\nECHO\r\n$10000000\r\n");
    for _ in 0..20 {
        reply.extend(t.raw(c, &chunk));
    }
    assert!(reply.is_empty());
    assert_eq!(t.node.env().closed, vec![c]);
    assert_eq!(t.node.server().clients.len(), 0);
}

// Unknown commands and wrong arity use Redis 7's texts.
#[test]
fn unknown_command_and_arity() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["FOO", "a", "b"]),
        "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    );
    assert_eq!(
        t.cmd(c, &["echo"]),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "GET"]),
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["CONFIG", "nope"]),
        "-ERR unknown subcommand 'nope'. Try CONFIG HELP.\r\n"
    );
}

// HELLO switches protocol; RESP3 replies use RESP3 types.
#[test]
fn hello_negotiates_resp3() {
    let mut t = TestNode::new();
    let c = t.connect();
    let hello = t.cmd(c, &["HELLO", "3"]);
    assert!(hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:1\r\n"), "{hello}");
    assert!(hello.ends_with("$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"));
    assert_eq!(t.cmd(c, &["CLIENT", "GETNAME"]), "_\r\n");
    assert!(t.cmd(c, &["HELLO", "2"]).starts_with("*14\r\n"));
    assert_eq!(t.cmd(c, &["CLIENT", "GETNAME"]), "$-1\r\n");
    assert_eq!(
        t.cmd(c, &["HELLO", "4"]),
        "-NOPROTO unsupported protocol version\r\n"
    );
    assert_eq!(
        t.cmd(c, &["HELLO", "x"]),
        "-ERR Protocol version is not an integer or out of range\r\n"
    );
}

// The node's cron is due again hz times a second.
#[test]
fn next_deadline_follows_hz() {
    let mut t = TestNode::new();
    let first = t.node.next_deadline();
    t.node.on_tick();
    assert_eq!(t.node.next_deadline(), first + 100);
    t.advance(100);
    assert_eq!(t.node.next_deadline(), first + 200);
}
