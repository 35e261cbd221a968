//! `maxmemory` on the real binary, through the `redis` crate: memory stays
//! under the limit while an application writes well past it, the keys it
//! keeps reading survive allkeys-lru better than the ones it left, and
//! under noeviction writes get Redis's OOM error (checked against the real
//! Redis too).

use std::thread::sleep;
use std::time::Duration;

use redis::{Commands, Connection};
use redoubt_tests::{command, on_both, Server, REPLY_TIMEOUT};

/// A raw reply as text, `\r\n` and all.
fn text(reply: &[u8]) -> String {
    String::from_utf8_lossy(reply).into_owned()
}

fn connect(server: &Server) -> Connection {
    let client = redis::Client::open(server.url()).expect("client");
    let connection = client
        .get_connection_with_timeout(REPLY_TIMEOUT)
        .expect("connect");
    connection.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    connection
}

/// One numeric field of INFO.
fn info_field(con: &mut Connection, section: &str, field: &str) -> u64 {
    let info: String = redis::cmd("INFO").arg(section).query(con).unwrap();
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in {info}"))
        .trim()
        .parse()
        .unwrap()
}

const LIMIT_BYTES: u64 = 8 << 20;
/// What a command may add past the limit before the next one evicts, plus
/// the allocator's and buffers' share: 5% and 256 KiB.
const SLACK_BYTES: u64 = LIMIT_BYTES / 20 + (256 << 10);
const VALUE_BYTES: usize = 1024;
const HOT_KEYS: usize = 200;
const COLD_KEYS_PER_ROUND: usize = 5000;
const ROUNDS: usize = 6;

// Writing three times the limit under allkeys-lru evicts, keeps used_memory
// under the limit, and keeps the keys read every round.
#[test]
fn allkeys_lru_stays_under_the_limit_and_keeps_the_hot_keys() {
    let server = Server::redoubt(&["--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"]);
    let mut con = connect(&server);
    assert_eq!(info_field(&mut con, "memory", "maxmemory"), LIMIT_BYTES);
    let value = "v".repeat(VALUE_BYTES);
    let mut pipe = redis::pipe();
    for i in 0..HOT_KEYS {
        pipe.set(format!("hot:{i}"), &value).ignore();
    }
    let () = pipe.query(&mut con).unwrap();
    let mut peak = 0;
    for round in 0..ROUNDS {
        // The LRU clock counts seconds: each round is a second older.
        sleep(Duration::from_millis(1100));
        let mut pipe = redis::pipe();
        for i in 0..HOT_KEYS {
            pipe.get(format!("hot:{i}")).ignore();
        }
        for i in 0..COLD_KEYS_PER_ROUND {
            pipe.set(format!("cold:{round}:{i}"), &value).ignore();
            if i % 500 == 0 {
                let () = pipe.query(&mut con).unwrap();
                pipe = redis::pipe();
                peak = peak.max(info_field(&mut con, "memory", "used_memory"));
            }
        }
        let () = pipe.query(&mut con).unwrap();
        peak = peak.max(info_field(&mut con, "memory", "used_memory"));
    }
    let written = (HOT_KEYS + ROUNDS * COLD_KEYS_PER_ROUND) * VALUE_BYTES;
    assert!(
        written as u64 > 3 * LIMIT_BYTES,
        "the test writes past the limit"
    );
    let used = info_field(&mut con, "memory", "used_memory");
    let evicted = info_field(&mut con, "stats", "evicted_keys");
    eprintln!("used_memory {used}, peak seen {peak}, evicted_keys {evicted}");
    assert!(evicted > 0, "keys were evicted");
    assert!(
        peak <= LIMIT_BYTES + SLACK_BYTES,
        "used_memory reached {peak}, over {LIMIT_BYTES} plus {SLACK_BYTES}"
    );
    let hot_alive = (0..HOT_KEYS)
        .filter(|i| con.exists::<_, bool>(format!("hot:{i}")).unwrap())
        .count();
    let cold_total = ROUNDS * COLD_KEYS_PER_ROUND;
    let cold_alive: usize = (0..ROUNDS)
        .flat_map(|round| (0..COLD_KEYS_PER_ROUND).map(move |i| format!("cold:{round}:{i}")))
        .filter(|key| con.exists::<_, bool>(key).unwrap())
        .count();
    let hot_share = hot_alive as f64 / HOT_KEYS as f64;
    let cold_share = cold_alive as f64 / cold_total as f64;
    eprintln!("hot keys kept {hot_alive}/{HOT_KEYS}, cold keys kept {cold_alive}/{cold_total}");
    assert!(
        hot_share >= 0.9 && hot_share > 2.0 * cold_share,
        "recently read keys survive: hot {hot_share:.2}, cold {cold_share:.2}"
    );
}

// Under noeviction a write past the limit gets the OOM error, exactly as
// Redis 7.0 sends it, while reads and deletions go on; the same with the
// redis crate, which sees the error's code.
#[test]
fn noeviction_refuses_writes_with_the_oom_error() {
    on_both(&["--maxmemory-policy", "noeviction"], |server| {
        let mut stream = server.connect();
        assert_eq!(text(&command(&mut stream, &["SET", "a", "1"])), "+OK\r\n");
        command(&mut stream, &["CONFIG", "SET", "maxmemory", "1"]);
        assert_eq!(
            text(&command(&mut stream, &["SET", "b", "2"])),
            "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        );
        assert_eq!(text(&command(&mut stream, &["MULTI"])), "+OK\r\n");
        assert_eq!(
            text(&command(&mut stream, &["GET", "a"])),
            "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        );
        assert_eq!(
            text(&command(&mut stream, &["EXEC"])),
            "-EXECABORT Transaction discarded because of previous errors.\r\n"
        );
        assert_eq!(text(&command(&mut stream, &["GET", "a"])), "$1\r\n1\r\n");
        let mut con = connect(server);
        let error = con.set::<_, _, ()>("c", "3").unwrap_err();
        assert_eq!(error.code(), Some("OOM"), "{error}");
        assert_eq!(
            error.detail(),
            Some("command not allowed when used memory > 'maxmemory'.")
        );
        let deleted: i64 = con.del("a").unwrap();
        assert_eq!(deleted, 1);
        assert_eq!(info_field(&mut con, "stats", "evicted_keys"), 0);
    });
}

// The directives are checked as Redis checks them, with its words.
#[test]
fn invalid_policies_are_refused() {
    on_both(&[], |server| {
        let mut stream = server.connect();
        assert_eq!(
            text(&command(
                &mut stream,
                &["CONFIG", "SET", "maxmemory-policy", "sometimes"]
            )),
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n"
        );
        assert_eq!(
            text(&command(
                &mut stream,
                &["CONFIG", "SET", "maxmemory", "100mb"]
            )),
            "+OK\r\n"
        );
        assert_eq!(
            text(&command(&mut stream, &["CONFIG", "GET", "maxmemory"])),
            "*2\r\n$9\r\nmaxmemory\r\n$9\r\n104857600\r\n"
        );
        assert_eq!(text(&command(&mut stream, &["SET", "k", "v"])), "+OK\r\n");
        assert_eq!(
            text(&command(&mut stream, &["OBJECT", "IDLETIME", "k"])),
            ":0\r\n"
        );
        command(
            &mut stream,
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"],
        );
        assert_eq!(text(&command(&mut stream, &["SET", "f", "v"])), "+OK\r\n");
        assert_eq!(
            text(&command(&mut stream, &["OBJECT", "FREQ", "f"])),
            ":5\r\n"
        );
    });
}
