//! redoubt-server as an application sees it: the `redis` crate (sync API)
//! against the real binary over TCP.

use std::io::Write;
use std::time::Duration;

use redis::{Commands, Connection, Value};
use redoubt_tests::{read_reply, show, Server, REPLY_TIMEOUT};

fn connect(server: &Server) -> Connection {
    let client = redis::Client::open(server.url()).expect("client");
    let connection = client
        .get_connection_with_timeout(REPLY_TIMEOUT)
        .expect("connect");
    connection.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    connection
}

// PING answers PONG, with and without an argument.
#[test]
fn ping() {
    let server = Server::redoubt(&[]);
    let mut con = connect(&server);
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let echo: String = redis::cmd("PING").arg("hello").query(&mut con).unwrap();
    assert_eq!(echo, "hello");
}

// SET then GET returns the value; GET of a missing key is nil.
#[test]
fn set_get() {
    let server = Server::redoubt(&[]);
    let mut con = connect(&server);
    let _: () = con.set("greeting", "hello").unwrap();
    let value: String = con.get("greeting").unwrap();
    assert_eq!(value, "hello");
    let missing: Option<String> = con.get("nothing-here").unwrap();
    assert_eq!(missing, None);
}

// INCR counts from a missing key and refuses a non-integer value.
#[test]
fn incr() {
    let server = Server::redoubt(&[]);
    let mut con = connect(&server);
    let one: i64 = con.incr("counter", 1).unwrap();
    let eleven: i64 = con.incr("counter", 10).unwrap();
    assert_eq!((one, eleven), (1, 11));
    let _: () = con.set("text", "abc").unwrap();
    let error = con.incr::<_, _, i64>("text", 1).unwrap_err();
    assert!(error.to_string().contains("not an integer"), "{error}");
}

// MSET sets several keys at once and MGET reads them back in order.
#[test]
fn mset_mget() {
    let server = Server::redoubt(&[]);
    let mut con = connect(&server);
    let _: () = con.mset(&[("a", "1"), ("b", "2"), ("c", "3")]).unwrap();
    let values: Vec<Option<String>> = con.mget(&["a", "missing", "c"]).unwrap();
    assert_eq!(
        values,
        vec![Some("1".to_string()), None, Some("3".to_string())]
    );
}

// EXPIRE sets a time to live that TTL reports; PERSIST removes it.
#[test]
fn expire_ttl() {
    let server = Server::redoubt(&[]);
    let mut con = connect(&server);
    let _: () = con.set("session", "x").unwrap();
    let no_ttl: i64 = con.ttl("session").unwrap();
    assert_eq!(no_ttl, -1);
    let set: bool = con.expire("session", 100).unwrap();
    assert!(set);
    let ttl: i64 = con.ttl("session").unwrap();
    assert!((99..=100).contains(&ttl), "ttl {ttl}");
    let missing: i64 = con.ttl("no-such-key").unwrap();
    assert_eq!(missing, -2);
}

// A key given a 100 ms time to live is gone after it.
#[test]
fn key_expires() {
    let server = Server::redoubt(&[]);
    let mut con = connect(&server);
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("lived")
        .arg("PX")
        .arg(100)
        .query(&mut con)
        .unwrap();
    std::thread::sleep(Duration::from_millis(250));
    let value: Option<String> = con.get("short").unwrap();
    assert_eq!(value, None);
}

// MULTI/EXEC runs the queued commands as one unit and returns every reply.
#[test]
fn multi_exec() {
    let server = Server::redoubt(&[]);
    let mut con = connect(&server);
    let (set, incr, get): (String, i64, String) = redis::pipe()
        .atomic()
        .set("tx", 41)
        .incr("tx", 1)
        .get("tx")
        .query(&mut con)
        .unwrap();
    assert_eq!((set.as_str(), incr, get.as_str()), ("OK", 42, "42"));
}

// A WATCHed key changed by another connection makes EXEC return nil.
#[test]
fn watch_conflict() {
    let server = Server::redoubt(&[]);
    let mut first = connect(&server);
    let mut second = connect(&server);
    let _: () = first.set("balance", 10).unwrap();
    let _: () = redis::cmd("WATCH")
        .arg("balance")
        .query(&mut first)
        .unwrap();
    let _: () = second.set("balance", 20).unwrap();
    let result: Option<(String,)> = redis::pipe()
        .atomic()
        .set("balance", 30)
        .query(&mut first)
        .unwrap();
    assert_eq!(result, None, "EXEC must fail after a watched key changed");
    let balance: i64 = first.get("balance").unwrap();
    assert_eq!(balance, 20);
}

// PUBLISH on one connection reaches a SUBSCRIBEr on another.
#[test]
fn pubsub_delivery() {
    let server = Server::redoubt(&[]);
    let mut subscriber = connect(&server);
    let mut publisher = connect(&server);
    let mut pubsub = subscriber.as_pubsub();
    pubsub.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    pubsub.subscribe("news").unwrap();
    let receivers: i64 = publisher.publish("news", "hello").unwrap();
    assert_eq!(receivers, 1);
    let message = pubsub.get_message().unwrap();
    assert_eq!(message.get_channel_name(), "news");
    let payload: String = message.get_payload().unwrap();
    assert_eq!(payload, "hello");
}

// SELECT switches databases: a key in db 2 is absent from db 0.
#[test]
fn select_databases() {
    let server = Server::redoubt(&[]);
    let client = redis::Client::open(format!("{}2", server.url())).unwrap();
    let mut db2 = client.get_connection_with_timeout(REPLY_TIMEOUT).unwrap();
    let _: () = db2.set("where", "two").unwrap();
    let mut db0 = connect(&server);
    let absent: Option<String> = db0.get("where").unwrap();
    assert_eq!(absent, None);
    let _: () = redis::cmd("SELECT").arg(2).query(&mut db0).unwrap();
    let present: String = db0.get("where").unwrap();
    assert_eq!(present, "two");
    let error = redis::cmd("SELECT")
        .arg(16)
        .query::<()>(&mut db0)
        .unwrap_err();
    assert!(error.to_string().contains("out of range"), "{error}");
}

// With requirepass, commands need AUTH; the right password opens the door.
#[test]
fn auth_requirepass() {
    let server = Server::redoubt(&["--requirepass", "s3cret"]);
    let mut anonymous = connect(&server);
    let error = anonymous.get::<_, Option<String>>("k").unwrap_err();
    assert!(error.to_string().contains("NOAUTH"), "{error}");
    let wrong = redis::cmd("AUTH")
        .arg("nope")
        .query::<()>(&mut anonymous)
        .unwrap_err();
    assert!(wrong.to_string().contains("WRONGPASS"), "{wrong}");
    let url = format!("redis://:s3cret@127.0.0.1:{}/", server.port);
    let mut authed = redis::Client::open(url)
        .unwrap()
        .get_connection_with_timeout(REPLY_TIMEOUT)
        .unwrap();
    let _: () = authed.set("k", "v").unwrap();
    let value: String = authed.get("k").unwrap();
    assert_eq!(value, "v");
}

// CLIENT SETNAME names the connection and CLIENT GETNAME reads it back.
#[test]
fn client_name() {
    let server = Server::redoubt(&[]);
    let mut con = connect(&server);
    let unnamed: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(unnamed, None);
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("worker-1")
        .query(&mut con)
        .unwrap();
    let name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, "worker-1");
}

// HELLO 3 switches the connection to RESP3: a map reply, then RESP3 nulls.
#[test]
fn hello_resp3() {
    let server = Server::redoubt(&[]);
    let mut stream = server.connect();
    stream
        .write_all(b"*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
        .unwrap();
    let mut pending = Vec::new();
    let hello = read_reply(&mut stream, &mut pending).unwrap();
    assert!(hello.starts_with(b"%"), "HELLO 3 reply: {}", show(&hello));
    let text = String::from_utf8_lossy(&hello);
    assert!(text.contains("$5\r\nproto\r\n:3\r\n"), "{}", show(&hello));
    assert!(text.contains("$6\r\n7.0.15\r\n"), "{}", show(&hello));
    stream
        .write_all(b"*2\r\n$3\r\nGET\r\n$7\r\nmissing\r\n")
        .unwrap();
    let null = read_reply(&mut stream, &mut pending).unwrap();
    assert_eq!(null, b"_\r\n", "RESP3 null: {}", show(&null));
}

// The crate's own RESP3 mode works against the server.
#[test]
fn resp3_through_the_crate() {
    let server = Server::redoubt(&[]);
    let url = format!("{}?protocol=resp3", server.url());
    let mut con = redis::Client::open(url)
        .unwrap()
        .get_connection_with_timeout(REPLY_TIMEOUT)
        .unwrap();
    let _: () = con.set("k", "v").unwrap();
    let value: Value = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(value, Value::BulkString(b"v".to_vec()));
    let missing: Value = redis::cmd("GET").arg("none").query(&mut con).unwrap();
    assert_eq!(missing, Value::Nil);
}
