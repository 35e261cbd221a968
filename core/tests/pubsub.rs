//! Publish/subscribe across clients, in RESP2 and RESP3.

use redoubt_core::testing::TestNode;

// Messages reach channel and pattern subscribers, with counts and kinds in
// Redis's shapes.
#[test]
fn publish_reaches_channel_and_pattern_subscribers() {
    let mut t = TestNode::new();
    let sub = t.connect();
    let psub = t.connect();
    let publisher = t.connect();
    assert_eq!(
        t.cmd(sub, &["SUBSCRIBE", "news", "sport"]),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n*3\r\n$9\r\nsubscribe\r\n$5\r\nsport\r\n:2\r\n"
    );
    assert_eq!(
        t.cmd(psub, &["PSUBSCRIBE", "n*"]),
        "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n"
    );
    assert_eq!(t.cmd(publisher, &["PUBLISH", "news", "hi"]), ":2\r\n");
    let env = &mut t.node.env_mut().sent;
    assert_eq!(
        env.remove(&sub).unwrap(),
        b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(
        env.remove(&psub).unwrap(),
        b"*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(t.cmd(publisher, &["PUBLISH", "other", "x"]), ":0\r\n");
}

// PUBSUB CHANNELS/NUMSUB/NUMPAT reflect the registry, and a closed client
// leaves it.
#[test]
fn pubsub_introspection_and_cleanup() {
    let mut t = TestNode::new();
    let a = t.connect();
    let b = t.connect();
    t.cmd(a, &["SUBSCRIBE", "x", "y"]);
    t.cmd(a, &["PSUBSCRIBE", "p*"]);
    assert_eq!(
        t.cmd(b, &["PUBSUB", "CHANNELS"]),
        "*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
    assert_eq!(t.cmd(b, &["PUBSUB", "CHANNELS", "x*"]), "*1\r\n$1\r\nx\r\n");
    assert_eq!(
        t.cmd(b, &["PUBSUB", "NUMSUB", "x", "z"]),
        "*4\r\n$1\r\nx\r\n:1\r\n$1\r\nz\r\n:0\r\n"
    );
    assert_eq!(t.cmd(b, &["PUBSUB", "NUMPAT"]), ":1\r\n");
    t.node.on_closed(a);
    assert_eq!(t.cmd(b, &["PUBSUB", "CHANNELS"]), "*0\r\n");
    assert_eq!(t.cmd(b, &["PUBSUB", "NUMPAT"]), ":0\r\n");
}

// UNSUBSCRIBE without arguments leaves everything; with nothing subscribed
// it answers with a null channel.
#[test]
fn unsubscribe_all() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["SUBSCRIBE", "a", "b"]);
    assert_eq!(
        t.cmd(c, &["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["UNSUBSCRIBE"]),
        "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
    );
    assert_eq!(
        t.cmd(c, &["PUNSUBSCRIBE"]),
        "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n"
    );
}

// In RESP3 messages are pushes and a subscribed client may still run any
// command, including publishing to itself.
#[test]
fn resp3_pushes() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["HELLO", "3"]);
    assert_eq!(
        t.cmd(c, &["SUBSCRIBE", "me"]),
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nme\r\n:1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["PUBLISH", "me", "hello"]),
        ">3\r\n$7\r\nmessage\r\n$2\r\nme\r\n$5\r\nhello\r\n:1\r\n"
    );
    assert_eq!(
        t.cmd(c, &["UNSUBSCRIBE", "nope"]),
        ">3\r\n$11\r\nunsubscribe\r\n$4\r\nnope\r\n:1\r\n"
    );
}

// A subscriber that does not read is closed past the pubsub hard limit, or
// after staying above the soft limit for its seconds; normal clients have
// no limit by default.
#[test]
fn output_buffer_limits() {
    let mut t = TestNode::new();
    let slow = t.connect();
    let lagging = t.connect();
    let normal = t.connect();
    let publisher = t.connect();
    t.cmd(slow, &["SUBSCRIBE", "ch"]);
    t.cmd(lagging, &["SUBSCRIBE", "ch"]);
    let env = t.node.env_mut();
    env.backlog.insert(slow, 33 << 20);
    env.backlog.insert(lagging, 9 << 20);
    env.backlog.insert(normal, 1 << 30);
    t.cmd(publisher, &["PUBLISH", "ch", "m"]);
    assert_eq!(t.node.env().closed, vec![slow]);
    t.advance(59_000);
    t.cmd(publisher, &["PUBLISH", "ch", "m"]);
    assert_eq!(t.node.env().closed, vec![slow]);
    t.advance(2_000);
    t.cmd(publisher, &["PUBLISH", "ch", "m"]);
    assert_eq!(t.node.env().closed, vec![slow, lagging]);
    assert_eq!(t.cmd(normal, &["PING"]), "+PONG\r\n");
    assert_eq!(t.cmd(publisher, &["CONFIG", "GET", "client-output-buffer-limit"]), "*2\r\n$26\r\nclient-output-buffer-limit\r\n$67\r\nnormal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60\r\n");
}
