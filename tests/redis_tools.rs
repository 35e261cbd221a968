//! Redis's own tools against redoubt-server: `redis-cli` one-shot commands
//! and a bounded `redis-benchmark` run.

use std::time::Duration;

use redoubt_tests::{require_redis_tools, run_bounded, Server};

const CLI_TIMEOUT: Duration = Duration::from_secs(10);
const BENCHMARK_TIMEOUT: Duration = Duration::from_secs(120);

fn cli(server: &Server, args: &[&str]) -> String {
    let port = server.port.to_string();
    let mut full = vec!["-h", "127.0.0.1", "-p", &port];
    full.extend_from_slice(args);
    let output = run_bounded("redis-cli", &full, CLI_TIMEOUT);
    assert!(output.status.success(), "redis-cli {args:?}: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

// `redis-cli ping` prints PONG.
#[test]
fn cli_ping() {
    require_redis_tools();
    let server = Server::redoubt(&[]);
    assert_eq!(cli(&server, &["ping"]), "PONG\n");
}

// `redis-cli set` then `get` round-trips a value across two processes.
#[test]
fn cli_set_get() {
    require_redis_tools();
    let server = Server::redoubt(&[]);
    assert_eq!(cli(&server, &["set", "a", "b"]), "OK\n");
    assert_eq!(cli(&server, &["get", "a"]), "b\n");
    assert_eq!(cli(&server, &["--no-raw", "get", "missing"]), "(nil)\n");
}

// `redis-cli info server` reports the Redis version tools check.
#[test]
fn cli_info_server() {
    require_redis_tools();
    let server = Server::redoubt(&[]);
    let info = cli(&server, &["info", "server"]);
    assert!(info.contains("redis_version:7.0.15"), "{info}");
}

// Errors come back the way redis-cli prints them.
#[test]
fn cli_error_reply() {
    require_redis_tools();
    let server = Server::redoubt(&[]);
    let output = cli(&server, &["nosuchcommand", "x"]);
    assert!(
        output.starts_with("ERR unknown command 'nosuchcommand'"),
        "{output}"
    );
}

// A bounded redis-benchmark run completes every test and prints rates.
#[test]
fn benchmark_runs() {
    require_redis_tools();
    let server = Server::redoubt(&[]);
    let port = server.port.to_string();
    let args = [
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-q",
        "-n",
        "2000",
        "-c",
        "10",
        "-t",
        "set,get,incr,mset",
    ];
    let output = run_bounded("redis-benchmark", &args, BENCHMARK_TIMEOUT);
    let text = String::from_utf8_lossy(&output.stdout).replace('\r', "\n");
    assert!(
        output.status.success(),
        "redis-benchmark failed: {output:?}"
    );
    for test in ["SET", "GET", "INCR", "MSET (10 keys)"] {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{test}: ")) && l.contains("requests per second"));
        assert!(line.is_some(), "no rate for {test} in:\n{text}");
    }
}
