//! CONFIG SET port / bind while running: the server listens anew at once,
//! keeps its open connections, and on a failure answers Redis 7.0's error
//! and keeps listening where it did. Each check runs against the real
//! Redis first (the oracle), then against redoubt-server.

use std::net::{TcpListener, TcpStream};

use redoubt_tests::{command, free_port, on_both, show, Server, REPLY_TIMEOUT};

fn connect(port: u16) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    Ok(stream)
}

fn assert_reply(stream: &mut TcpStream, args: &[&str], expected: &str) {
    let reply = command(stream, args);
    assert_eq!(show(&reply), show(expected.as_bytes()), "reply to {args:?}");
}

fn assert_serves(port: u16) {
    let mut stream = connect(port).unwrap_or_else(|e| panic!("connect to port {port}: {e}"));
    assert_reply(&mut stream, &["PING"], "+PONG\r\n");
}

fn assert_refuses(port: u16) {
    if let Ok(mut stream) = connect(port) {
        panic!(
            "port {port} still accepts connections: PING answers {}",
            show(&command(&mut stream, &["PING"]))
        );
    }
}

/// CONFIG GET `name`'s reply, shown.
fn config_get(stream: &mut TcpStream, name: &str) -> String {
    show(&command(stream, &["CONFIG", "GET", name]))
}

/// The reply CONFIG GET gives when `name` is `value`, shown.
fn expected_get(name: &str, value: &str) -> String {
    show(
        format!(
            "*2\r\n${}\r\n{name}\r\n${}\r\n{value}\r\n",
            name.len(),
            value.len()
        )
        .as_bytes(),
    )
}

#[test]
fn config_set_port_moves_the_listener_and_keeps_connections() {
    on_both(&[], |server: &Server| {
        let old = server.port;
        let mut client = server.connect();
        let new = free_port();
        assert_reply(
            &mut client,
            &["CONFIG", "SET", "port", &new.to_string()],
            "+OK\r\n",
        );
        // The connection that asked stays open and served.
        assert_reply(&mut client, &["PING"], "+PONG\r\n");
        assert_serves(new);
        assert_refuses(old);
        assert_eq!(
            config_get(&mut client, "port"),
            expected_get("port", &new.to_string())
        );
        let info = command(&mut client, &["INFO", "server"]);
        let info = String::from_utf8_lossy(&info);
        assert!(info.contains(&format!("tcp_port:{new}\r\n")), "{info}");
    });
}

#[test]
fn config_set_port_to_a_taken_port_fails_and_keeps_the_old_one() {
    on_both(&[], |server: &Server| {
        let old = server.port;
        let holder = TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
        let taken = holder.local_addr().unwrap().port().to_string();
        let mut client = server.connect();
        assert_reply(
            &mut client,
            &["CONFIG", "SET", "port", &taken],
            "-ERR CONFIG SET failed (possibly related to argument 'port') - \
             Unable to listen on this port. Check server logs.\r\n",
        );
        assert_eq!(
            config_get(&mut client, "port"),
            expected_get("port", &old.to_string())
        );
        assert_reply(&mut client, &["PING"], "+PONG\r\n");
        assert_serves(old);
        drop(holder);
    });
}

#[test]
fn config_set_bind_to_a_bad_address_fails_and_keeps_the_old_one() {
    on_both(&[], |server: &Server| {
        let mut client = server.connect();
        assert_reply(
            &mut client,
            &["CONFIG", "SET", "bind", "999.999.999.999"],
            "-ERR CONFIG SET failed (possibly related to argument 'bind') - \
             Failed to bind to specified addresses.\r\n",
        );
        assert_eq!(
            config_get(&mut client, "bind"),
            expected_get("bind", "127.0.0.1")
        );
        assert_serves(server.port);
        // More addresses than Redis listens on at once.
        let many: Vec<String> = (1..=17).map(|i| format!("127.0.0.{i}")).collect();
        assert_reply(
            &mut client,
            &["CONFIG", "SET", "bind", &many.join(" ")],
            "-ERR CONFIG SET failed (possibly related to argument 'bind') - \
             Too many bind addresses specified.\r\n",
        );
    });
}

#[test]
fn config_set_bind_changes_addresses_on_the_same_port() {
    on_both(&[], |server: &Server| {
        let mut client = server.connect();
        // Wider, then narrower again: the wildcard and the loopback address
        // collide on one port, so the old socket must go first.
        assert_reply(&mut client, &["CONFIG", "SET", "bind", "*"], "+OK\r\n");
        assert_serves(server.port);
        assert_reply(
            &mut client,
            &["CONFIG", "SET", "bind", "-1.2.3.4 127.0.0.1"],
            "+OK\r\n",
        );
        assert_serves(server.port);
        assert_eq!(
            config_get(&mut client, "bind"),
            expected_get("bind", "-1.2.3.4 127.0.0.1")
        );
        assert_reply(&mut client, &["PING"], "+PONG\r\n");
    });
}

#[test]
fn config_set_port_0_stops_listening_until_a_port_is_set_again() {
    // Redis 7.0 accepts port 0 (and `bind ""`) at run time and listens on
    // no TCP port; only at start-up is listening nowhere fatal.
    on_both(&[], |server: &Server| {
        let mut client = server.connect();
        assert_reply(&mut client, &["CONFIG", "SET", "port", "0"], "+OK\r\n");
        assert_refuses(server.port);
        assert_reply(&mut client, &["PING"], "+PONG\r\n");
        let new = free_port();
        assert_reply(
            &mut client,
            &["CONFIG", "SET", "port", &new.to_string()],
            "+OK\r\n",
        );
        assert_serves(new);

        assert_reply(&mut client, &["CONFIG", "SET", "bind", ""], "+OK\r\n");
        assert_refuses(new);
        assert_reply(
            &mut client,
            &["CONFIG", "SET", "bind", "127.0.0.1"],
            "+OK\r\n",
        );
        assert_serves(new);
    });
}
