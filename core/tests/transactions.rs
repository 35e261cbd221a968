//! MULTI/EXEC/DISCARD/WATCH: queueing, EXECABORT, and WATCH invalidation by
//! writes, expiry, flushes and other clients.

use redoubt_core::testing::TestNode;

// Queued commands run as one unit and their replies come as one array.
#[test]
fn exec_runs_queue() {
    let mut t = TestNode::new();
    let c = t.connect();
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["INCR", "a"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["GET", "a"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(t.cmd(c, &["DISCARD"]), "-ERR DISCARD without MULTI\r\n");
}

// A queue-time error aborts the whole transaction; runtime errors do not.
#[test]
fn execabort_and_runtime_errors() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["SET", "a", "1"]);
    assert_eq!(
        t.cmd(c, &["NOPE"]),
        "-ERR unknown command 'NOPE', with args beginning with: \r\n"
    );
    assert_eq!(
        t.cmd(c, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(t.cmd(c, &["GET", "a"]), "$-1\r\n");
    t.cmd(c, &["SET", "s", "x"]);
    t.cmd(c, &["MULTI"]);
    t.cmd(c, &["INCR", "s"]);
    t.cmd(c, &["SET", "b", "2"]);
    assert_eq!(
        t.cmd(c, &["EXEC"]),
        "*2\r\n-ERR value is not an integer or out of range\r\n+OK\r\n"
    );
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["MULTI"]),
        "-ERR MULTI calls can not be nested\r\n"
    );
    assert_eq!(
        t.cmd(c, &["WATCH", "a"]),
        "-ERR WATCH inside MULTI is not allowed\r\n"
    );
    assert_eq!(t.cmd(c, &["DISCARD"]), "+OK\r\n");
}

// A write by another client to a watched key makes EXEC return a null array.
#[test]
fn watch_sees_other_clients_write() {
    let mut t = TestNode::new();
    let a = t.connect();
    let b = t.connect();
    t.cmd(a, &["WATCH", "k"]);
    t.cmd(b, &["SET", "k", "x"]);
    t.cmd(a, &["MULTI"]);
    t.cmd(a, &["SET", "k", "mine"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*-1\r\n");
    assert_eq!(t.cmd(a, &["GET", "k"]), "$1\r\nx\r\n");
    // WATCH is cleared by EXEC: the next transaction runs.
    t.cmd(a, &["MULTI"]);
    t.cmd(a, &["SET", "k", "mine"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*1\r\n+OK\r\n");
}

// Writes to unwatched keys, or in other databases, do not abort.
#[test]
fn watch_is_per_key_and_db() {
    let mut t = TestNode::new();
    let a = t.connect();
    let b = t.connect();
    t.cmd(a, &["WATCH", "k"]);
    t.cmd(b, &["SET", "other", "x"]);
    t.cmd(b, &["SELECT", "1"]);
    t.cmd(b, &["SET", "k", "x"]);
    t.cmd(a, &["MULTI"]);
    t.cmd(a, &["PING"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*1\r\n+PONG\r\n");
}

// FLUSHALL and SWAPDB invalidate watches on keys that existed.
#[test]
fn watch_sees_flush_and_swap() {
    let mut t = TestNode::new();
    let a = t.connect();
    let b = t.connect();
    t.cmd(b, &["SET", "k", "1"]);
    t.cmd(a, &["WATCH", "k"]);
    t.cmd(b, &["FLUSHALL"]);
    t.cmd(a, &["MULTI"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*-1\r\n");
    t.cmd(b, &["SELECT", "1"]);
    t.cmd(b, &["SET", "k", "1"]);
    t.cmd(a, &["WATCH", "k"]);
    t.cmd(b, &["SWAPDB", "0", "1"]);
    t.cmd(a, &["MULTI"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*-1\r\n");
}

// A watched key that expires (lazily, actively, or found expired at EXEC)
// aborts; one already expired at WATCH time does not.
#[test]
fn watch_sees_expiry() {
    let mut t = TestNode::new();
    let a = t.connect();
    t.cmd(a, &["SET", "k", "v", "PX", "50"]);
    t.cmd(a, &["WATCH", "k"]);
    t.advance(100);
    t.cmd(a, &["MULTI"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*-1\r\n");
    // Already expired at WATCH: its removal is no change.
    t.cmd(a, &["SET", "j", "v", "PX", "10"]);
    t.node.env_mut().wall_ms += 20;
    t.node.env_mut().monotonic_ms += 20;
    t.cmd(a, &["WATCH", "j"]);
    t.advance(200);
    t.cmd(a, &["MULTI"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*0\r\n");
}

// UNWATCH forgets; a client's own write to its watched key counts.
#[test]
fn unwatch_and_own_writes() {
    let mut t = TestNode::new();
    let a = t.connect();
    t.cmd(a, &["WATCH", "k"]);
    t.cmd(a, &["SET", "k", "1"]);
    t.cmd(a, &["MULTI"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*-1\r\n");
    t.cmd(a, &["WATCH", "k"]);
    t.cmd(a, &["SET", "k", "2"]);
    assert_eq!(t.cmd(a, &["UNWATCH"]), "+OK\r\n");
    t.cmd(a, &["MULTI"]);
    assert_eq!(t.cmd(a, &["EXEC"]), "*0\r\n");
}

// UNWATCH inside MULTI is queued like Redis and answers inside EXEC.
#[test]
fn unwatch_is_queued_in_multi() {
    let mut t = TestNode::new();
    let c = t.connect();
    t.cmd(c, &["MULTI"]);
    assert_eq!(t.cmd(c, &["UNWATCH"]), "+QUEUED\r\n");
    assert_eq!(t.cmd(c, &["EXEC"]), "*1\r\n+OK\r\n");
}

// EXEC with extra words inside MULTI discards the transaction with
// EXECABORT; DISCARD with extra words dooms it, as Redis does.
#[test]
fn exec_and_discard_with_extra_words() {
    let (mut t, c) = TestNode::with_client();
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(t.cmd(c, &["SET", "a", "1"]), "+QUEUED\r\n");
    assert_eq!(
        t.cmd(c, &["EXEC", "x"]),
        "-EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command\r\n"
    );
    assert_eq!(t.cmd(c, &["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(t.cmd(c, &["GET", "a"]), "$-1\r\n");
    assert_eq!(t.cmd(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(
        t.cmd(c, &["DISCARD", "y"]),
        "-ERR wrong number of arguments for 'discard' command\r\n"
    );
    assert_eq!(
        t.cmd(c, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
}
