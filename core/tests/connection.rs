//! Connection commands: AUTH and requirepass, SELECT, QUIT, RESET, CLIENT.

use redoubt_core::config::Config;
use redoubt_core::testing::TestNode;

fn with_password() -> TestNode {
    let mut config = Config::default();
    config.set("requirepass", "secret").unwrap();
    TestNode::with_config(config)
}

// Without AUTH only NO_AUTH commands run; a wrong password is refused.
#[test]
fn requirepass_gates_commands() {
    let mut t = with_password();
    let c = t.connect();
    assert_eq!(t.cmd(c, &["PING"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        t.cmd(c, &["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(t.cmd(c, &["AUTH", "default", "secret"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PING"]), "+PONG\r\n");
    assert_eq!(t.cmd(c, &["RESET"]), "+RESET\r\n");
    assert_eq!(t.cmd(c, &["PING"]), "-NOAUTH Authentication required.\r\n");
    assert!(t
        .cmd(c, &["HELLO", "3", "AUTH", "default", "secret"])
        .starts_with("%7\r\n"));
}

// Before AUTH the parser applies Redis's unauthenticated limits.
#[test]
fn unauthenticated_multibulk_limit() {
    let mut t = with_password();
    let c = t.connect();
    assert_eq!(
        t.raw(c, b"*20\r\n"),
        b"-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
}

// AUTH without a configured password says so.
#[test]
fn auth_without_password() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(
        t.cmd(c, &["AUTH", "x"]),
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n"
    );
}

// SELECT validates the index.
#[test]
fn select_range() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(t.cmd(c, &["SELECT", "15"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["SELECT", "16"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        t.cmd(c, &["SELECT", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

// QUIT replies, then the node closes the connection.
#[test]
fn quit_closes_after_reply() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(t.raw(c, b"QUIT\r\nPING\r\n"), b"+OK\r\n");
    assert_eq!(t.node.env().closed, vec![c]);
}

// CLIENT ID/SETNAME/GETNAME/LIST/INFO/KILL.
#[test]
fn client_subcommands() {
    let mut t = TestNode::new();
    let a = t.connect();
    let b = t.connect();
    assert_eq!(t.cmd(a, &["CLIENT", "ID"]), ":1\r\n");
    assert_eq!(
        t.cmd(a, &["CLIENT", "SETNAME", "has space"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(t.cmd(a, &["CLIENT", "SETNAME", "alpha"]), "+OK\r\n");
    assert_eq!(t.cmd(a, &["CLIENT", "GETNAME"]), "$5\r\nalpha\r\n");
    let list = t.cmd(a, &["CLIENT", "LIST"]);
    let lines: Vec<&str> = list.split('\n').filter(|l| l.starts_with("id=")).collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(lines[0].starts_with("id=1 addr=127.0.0.1:40000 laddr=127.0.0.1:6379 fd=8 name=alpha "));
    assert!(
        lines[0].ends_with("cmd=client|list user=default redir=-1 resp=2"),
        "{}",
        lines[0]
    );
    assert!(t.cmd(b, &["CLIENT", "INFO"]).contains("id=2 "));
    assert_eq!(t.cmd(a, &["CLIENT", "KILL", "ID", "2"]), ":1\r\n");
    assert_eq!(t.node.env().closed, vec![b]);
    assert_eq!(
        t.cmd(a, &["CLIENT", "KILL", "127.0.0.1:1"]),
        "-ERR No such client\r\n"
    );
    assert_eq!(t.cmd(a, &["CLIENT", "KILL", "ID", "1"]), ":0\r\n");
    assert_eq!(
        t.cmd(a, &["CLIENT", "KILL", "ID", "1", "SKIPME", "no"]),
        ":1\r\n"
    );
    assert_eq!(t.node.env().closed, vec![b, a]);
}

// PING in the RESP2 subscribed context replies with an array.
#[test]
fn ping_when_subscribed() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["SUBSCRIBE", "ch"]);
    assert_eq!(t.cmd(c, &["PING"]), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    assert_eq!(t.cmd(c, &["PING", "x"]), "*2\r\n$4\r\npong\r\n$1\r\nx\r\n");
    assert_eq!(
        t.cmd(c, &["GET", "k"]),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
}

// CLIENT PAUSE WRITE holds writes (and EVAL) until the pause ends while
// reads go on; a key past its time reads as gone but is not deleted
// meanwhile; the held write then runs and is answered.
#[test]
fn client_pause_write_holds_writes_until_it_ends() {
    let mut t = TestNode::new();
    let (admin, writer, reader) = (t.connect(), t.connect(), t.connect());
    assert_eq!(t.cmd(writer, &["SET", "short", "v", "PX", "50"]), "+OK\r\n");
    assert_eq!(
        t.cmd(admin, &["CLIENT", "PAUSE", "1000", "WRITE"]),
        "+OK\r\n"
    );
    assert_eq!(t.cmd(writer, &["SET", "k", "v"]), "");
    assert_eq!(t.cmd(reader, &["GET", "k"]), "$-1\r\n");
    t.advance(100);
    assert_eq!(t.cmd(reader, &["GET", "short"]), "$-1\r\n");
    assert_eq!(
        t.cmd(reader, &["DBSIZE"]),
        ":1\r\n",
        "nothing expires while paused"
    );
    t.advance(899);
    assert_eq!(t.take_sent(writer), "", "still paused");
    t.advance(1);
    assert_eq!(t.take_sent(writer), "+OK\r\n");
    assert_eq!(t.cmd(reader, &["GET", "k"]), "$1\r\nv\r\n");
}

// CLIENT PAUSE ALL holds every command, CLIENT UNPAUSE from another
// client included, until its time; a later pause keeps the stricter kind
// and the later end; UNPAUSE ends it at once.
#[test]
fn client_pause_all_and_unpause() {
    let mut t = TestNode::new();
    let (a, b) = (t.connect(), t.connect());
    assert_eq!(t.cmd(a, &["CLIENT", "PAUSE", "500", "ALL"]), "+OK\r\n");
    assert_eq!(t.cmd(b, &["PING"]), "");
    t.advance(500);
    assert_eq!(t.take_sent(b), "+PONG\r\n");
    assert_eq!(t.cmd(a, &["CLIENT", "PAUSE", "100", "ALL"]), "+OK\r\n");
    assert_eq!(t.cmd(a, &["CLIENT", "PAUSE", "10000", "WRITE"]), "");
    t.advance(100);
    assert_eq!(t.take_sent(a), "+OK\r\n");
    assert_eq!(t.cmd(b, &["SET", "k", "v"]), "", "WRITE pause until 10100");
    assert_eq!(t.cmd(a, &["CLIENT", "UNPAUSE"]), "+OK\r\n");
    assert_eq!(t.take_sent(b), "+OK\r\n");
    for (args, reply) in [
        (
            &["CLIENT", "PAUSE", "-1"][..],
            "-ERR timeout is negative\r\n",
        ),
        (
            &["CLIENT", "PAUSE", "x"],
            "-ERR timeout is not an integer or out of range\r\n",
        ),
        (
            &["CLIENT", "PAUSE", "10", "READ"],
            "-ERR CLIENT PAUSE mode must be WRITE or ALL\r\n",
        ),
        (&["CLIENT", "NO-EVICT", "on"], "+OK\r\n"),
        (&["CLIENT", "NO-EVICT", "maybe"], "-ERR syntax error\r\n"),
    ] {
        assert_eq!(t.cmd(a, args), reply, "{args:?}");
    }
}

// CLIENT REPLY OFF drops replies until ON; SKIP drops the next one only;
// neither answers itself.
#[test]
fn client_reply_off_and_skip() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(t.cmd(c, &["CLIENT", "REPLY", "OFF"]), "");
    assert_eq!(t.cmd(c, &["SET", "k", "v"]), "");
    assert_eq!(t.cmd(c, &["GET", "k"]), "");
    assert_eq!(t.cmd(c, &["CLIENT", "REPLY", "ON"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["CLIENT", "REPLY", "SKIP"]), "");
    assert_eq!(t.cmd(c, &["GET", "k"]), "");
    assert_eq!(t.cmd(c, &["GET", "k"]), "$1\r\nv\r\n");
    // ON right after SKIP is answered: it ends the skipping.
    assert_eq!(t.cmd(c, &["CLIENT", "REPLY", "SKIP"]), "");
    assert_eq!(t.cmd(c, &["CLIENT", "REPLY", "ON"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["PING"]), "+PONG\r\n");
    assert_eq!(
        t.cmd(c, &["CLIENT", "REPLY", "MAYBE"]),
        "-ERR syntax error\r\n"
    );
}

// Under CLIENT REPLY OFF, subscription confirmations and published
// messages still reach the client (they are pushes in Redis).
#[test]
fn client_reply_off_keeps_pushes() {
    let mut t = TestNode::new();
    let (c, publisher) = (t.connect(), t.connect());
    assert_eq!(t.cmd(c, &["CLIENT", "REPLY", "OFF"]), "");
    assert_eq!(
        t.cmd(c, &["SUBSCRIBE", "ch"]),
        "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(t.cmd(publisher, &["PUBLISH", "ch", "hi"]), ":1\r\n");
    assert_eq!(
        t.take_sent(c),
        "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
    );
}
