//! The RDB codec (core/src/persist/rdb.rs): round trips, fuzzing, and
//! compatibility with real Redis 7.0 in both directions.
//!
//! The real-Redis tests need Debian's `redis-server` and `redis-check-rdb`
//! on PATH; they fail with a clear message when those are missing. Servers
//! listen on 127.0.0.1 only and are killed when the test ends, pass or fail.

// core's clippy.toml bans clocks and files so that core/src stays sans-IO;
// this test drives real processes and files from outside, as a driver does.
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;
use redoubt_core::db::Value;
use redoubt_core::persist::rdb::{
    crc64, Checksum, RdbEntry, RdbError, RdbErrorKind, RdbEvent, RdbReader, RdbWriter,
};

/// Database → key → (value, absolute expiry in ms).
type Dataset = BTreeMap<u64, BTreeMap<Vec<u8>, (Vec<u8>, Option<i64>)>>;

/// Longest wait for a server to answer PING.
const SERVER_START_WAIT: Duration = Duration::from_secs(10);
/// Longest wait for any single reply.
const REPLY_WAIT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------
// Encoding and decoding whole datasets

/// Writes `data` as Redis 7.0 would, in one slice per call.
fn encode(data: &Dataset, compress: bool, checksum: bool) -> Vec<u8> {
    let mut writer = RdbWriter::new(compress, checksum);
    let mut file = Vec::new();
    let mut slice = Vec::new();
    writer.header(&mut slice, &[("redis-ver", b"7.0.15")]);
    writer.aux_int(&mut slice, "redis-bits", 64);
    writer.aux_int(&mut slice, "ctime", 1_700_000_000);
    writer.aux_int(&mut slice, "used-mem", 5_000_000_000);
    writer.aux_int(&mut slice, "aof-base", 0);
    file.append(&mut slice);
    for (&db, keys) in data {
        let expires = keys.values().filter(|(_, at)| at.is_some()).count();
        writer.select_db(&mut slice, db, keys.len() as u64, expires as u64);
        file.append(&mut slice);
        for (key, (value, at)) in keys {
            writer.entry(&mut slice, key, &Value::String(value.clone()), *at);
            file.append(&mut slice);
        }
    }
    writer.finish(&mut slice);
    file.append(&mut slice);
    file
}

/// What a dump holds, read through the streaming reader.
struct Decoded {
    data: Dataset,
    aux: BTreeMap<Vec<u8>, Vec<u8>>,
    checksum: Checksum,
}

fn decode(bytes: &[u8]) -> Result<Decoded, RdbError> {
    let mut reader = RdbReader::new(bytes)?;
    let mut decoded = Decoded {
        data: Dataset::new(),
        aux: BTreeMap::new(),
        checksum: Checksum::Absent,
    };
    let mut db = 0;
    while let Some(event) = reader.next_event()? {
        match event {
            RdbEvent::Aux { key, value } => {
                decoded.aux.insert(key, value);
            }
            RdbEvent::SelectDb { index } => db = index,
            RdbEvent::ResizeDb { .. } => {}
            RdbEvent::Entry(RdbEntry {
                key,
                value: Value::String(value),
                expire_at_ms,
            }) => {
                let keys = decoded.data.entry(db).or_default();
                assert!(keys.insert(key, (value, expire_at_ms)).is_none());
            }
            RdbEvent::Entry(other) => {
                panic!(
                    "these dumps hold strings, found a {}",
                    other.value.type_name()
                )
            }
            RdbEvent::EmptyKey { key } => {
                panic!("these dumps hold strings, found an empty key {key:?}")
            }
            RdbEvent::Function { .. } => panic!("these dumps hold no function library"),
            RdbEvent::End { checksum } => decoded.checksum = checksum,
        }
    }
    assert_eq!(reader.offset(), bytes.len() as u64, "reader stopped early");
    Ok(decoded)
}

/// Deterministic bytes that LZF cannot shrink.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A dataset covering every string encoding: empty strings, integers at
/// and just past the 8/16/32-bit boundaries, non-canonical numbers, long
/// compressible and incompressible values, binary and compressible keys,
/// expiries, and several databases.
fn varied_dataset(expire_base_ms: i64) -> Dataset {
    let mut data = Dataset::new();
    let db0 = data.entry(0).or_default();
    let numbers = [
        "0",
        "1",
        "-1",
        "127",
        "128",
        "-128",
        "-129",
        "255",
        "256",
        "32767",
        "32768",
        "-32768",
        "-32769",
        "65535",
        "65536",
        "2147483647",
        "2147483648",
        "-2147483648",
        "-2147483649",
        "4294967296",
        "9223372036854775807",
        "-9223372036854775808",
        "007",
        "-0",
        "+5",
        "1e3",
        " 12",
    ];
    for (i, n) in numbers.iter().enumerate() {
        db0.insert(
            format!("num:{i}").into_bytes(),
            (n.as_bytes().to_vec(), None),
        );
        db0.insert(
            n.as_bytes().to_vec(),
            (format!("key-is-{n}").into_bytes(), None),
        );
    }
    db0.insert(b"empty".to_vec(), (Vec::new(), None));
    db0.insert(Vec::new(), (b"the empty key".to_vec(), None));
    db0.insert(b"short20".to_vec(), (vec![b'a'; 20], None));
    db0.insert(b"short21".to_vec(), (vec![b'a'; 21], None));
    db0.insert(b"compressible".to_vec(), (b"abcd".repeat(5000), None));
    db0.insert(b"incompressible".to_vec(), (noise(5000, 7), None));
    db0.insert(
        b"bin\x00\xff\r\n".to_vec(),
        (b"\x00\x01\x02\xfe\xff".to_vec(), None),
    );
    db0.insert(b"k".repeat(300), (b"long compressible key".to_vec(), None));

    let db1 = data.entry(1).or_default();
    for i in 0..50i64 {
        let at = (i % 2 == 0).then_some(expire_base_ms + 1000 * i);
        db1.insert(
            format!("ttl:{i}").into_bytes(),
            (i.to_string().into_bytes(), at),
        );
    }
    db1.insert(
        b"ttl:empty".to_vec(),
        (Vec::new(), Some(expire_base_ms + 7)),
    );

    let db9 = data.entry(9).or_default();
    let mut big = noise(300_000, 9);
    big.extend(b"0123456789".repeat(40_000));
    db9.insert(b"big".to_vec(), (big, Some(expire_base_ms + 123_456)));

    let db15 = data.entry(15).or_default();
    db15.insert(b"last".to_vec(), (b"db".to_vec(), None));
    data
}

// Everything written reads back exactly, with and without compression and
// checksums.
#[test]
fn round_trip_varied_dataset() {
    let data = varied_dataset(1_800_000_000_000);
    for (compress, checksum) in [(true, true), (false, true), (true, false), (false, false)] {
        let dump = encode(&data, compress, checksum);
        let decoded = decode(&dump).unwrap();
        assert_eq!(
            decoded.data, data,
            "compress {compress} checksum {checksum}"
        );
        assert_eq!(decoded.aux[&b"redis-bits"[..]], b"64");
        assert_eq!(decoded.aux[&b"used-mem"[..]], b"5000000000");
        let expected = if checksum {
            Checksum::Verified(crc64(&dump[..dump.len() - 8]))
        } else {
            Checksum::Disabled
        };
        assert_eq!(decoded.checksum, expected);
    }
    let compressed = encode(&data, true, true).len();
    let plain = encode(&data, false, true).len();
    assert!(compressed + 300_000 < plain, "{compressed} vs {plain}");
}

// ---------------------------------------------------------------------------
// Fuzzing: nothing panics, corruption of a checksummed dump is detected

fn dataset_strategy() -> impl Strategy<Value = Dataset> {
    let bytes = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..40),
        (-70_000i64..70_000).prop_map(|n| n.to_string().into_bytes()),
        (any::<u8>(), 21usize..200).prop_map(|(b, n)| vec![b; n]),
    ];
    let key = prop::collection::vec(any::<u8>(), 1..12);
    let expire = prop::option::of(0i64..4_000_000_000_000);
    let keys = prop::collection::btree_map(key, (bytes, expire), 0..12);
    prop::collection::btree_map(0u64..20, keys, 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    // Random datasets survive the round trip exactly.
    #[test]
    fn prop_round_trip(data in dataset_strategy(), compress in any::<bool>()) {
        let dump = encode(&data, compress, true);
        let decoded = decode(&dump).unwrap();
        let non_empty: Dataset = data.into_iter().filter(|(_, k)| !k.is_empty()).collect();
        let got: Dataset = decoded.data;
        prop_assert_eq!(got, non_empty);
    }

    // Arbitrary bytes, bare or behind a valid header, never panic.
    #[test]
    fn prop_random_bytes_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..400),
        with_header in any::<bool>(),
    ) {
        let mut bytes = if with_header { b"REDIS0010".to_vec() } else { Vec::new() };
        bytes.extend_from_slice(&tail);
        let _ = decode_without_asserts(&bytes);
    }

    // Any single changed byte of a checksummed dump is refused; so is any
    // truncation.
    #[test]
    fn prop_corruption_and_truncation_detected(
        data in dataset_strategy(),
        compress in any::<bool>(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
        cut in any::<prop::sample::Index>(),
    ) {
        let dump = encode(&data, compress, true);
        let mut corrupt = dump.clone();
        let at = position.index(corrupt.len());
        corrupt[at] ^= flip;
        let result = decode_without_asserts(&corrupt);
        prop_assert!(result.is_err(), "byte {} ^ {:#x} went unnoticed", at, flip);

        let len = cut.index(dump.len());
        let e = decode_without_asserts(&dump[..len]).unwrap_err();
        prop_assert!(
            matches!(e.kind, RdbErrorKind::UnexpectedEof | RdbErrorKind::BadMagic
                | RdbErrorKind::ImplausibleLength { .. }),
            "{}", e
        );
    }

    // Corrupting a dump written without checksums may load or fail, but
    // never panics.
    #[test]
    fn prop_corruption_without_checksum_never_panics(
        data in dataset_strategy(),
        position in any::<prop::sample::Index>(),
        value in any::<u8>(),
    ) {
        let mut dump = encode(&data, true, false);
        let at = position.index(dump.len());
        dump[at] = value;
        let _ = decode_without_asserts(&dump);
    }
}

/// Reads every event, with no assertions of its own.
fn decode_without_asserts(bytes: &[u8]) -> Result<Vec<RdbEvent>, RdbError> {
    let mut reader = RdbReader::new(bytes)?;
    let mut events = Vec::new();
    while let Some(event) = reader.next_event()? {
        events.push(event);
    }
    Ok(events)
}

// ---------------------------------------------------------------------------
// Real Redis: processes, a scratch directory, a tiny RESP client

/// Fails the test with a clear message when a Redis binary is missing.
fn require_binary(name: &str) {
    let found = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    assert!(
        found,
        "`{name}` is not installed or not on PATH: these tests need Redis 7.0's \
         binaries (Debian: apt-get install redis-server redis-tools)"
    );
}

/// A fresh directory under the system temp dir, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(label: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("redoubt-rdb-{label}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        ScratchDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real redis-server on a free loopback port, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl RedisServer {
    /// Starts Redis in `dir`, loading `dbfilename` if it exists, and waits
    /// until it answers PING.
    fn start(dir: &Path, dbfilename: &str) -> Self {
        require_binary("redis-server");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = dir.join("redis.log");
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(dir)
            .args([
                "--dbfilename",
                dbfilename,
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--databases", "16"])
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start redis-server");
        let mut server = RedisServer { child, port, log };
        server.wait_ready();
        server
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + SERVER_START_WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("redis-server exited ({status}); log:\n{}", self.log_text());
            }
            if let Ok(mut conn) = Conn::open(self.port) {
                if conn.try_cmd(&[b"PING"]).ok() == Some(Reply::Status("PONG".into())) {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server did not answer PING in time; log:\n{}",
            self.log_text()
        );
    }

    fn conn(&self) -> Conn {
        Conn::open(self.port).expect("connect to redis-server")
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

struct Conn {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(port: u16) -> std::io::Result<Self> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(REPLY_WAIT))?;
        Ok(Conn {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
        })
    }

    fn cmd(&mut self, args: &[&[u8]]) -> Reply {
        let reply = self.try_cmd(args).expect("redis-server connection failed");
        if let Reply::Error(e) = &reply {
            panic!("{:?} failed: {e}", String::from_utf8_lossy(args[0]));
        }
        reply
    }

    fn try_cmd(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&request)?;
        self.read_reply()
    }

    fn read_reply(&mut self) -> std::io::Result<Reply> {
        let mut line = Vec::new();
        self.reader.read_until(b'\n', &mut line)?;
        if line.len() < 3 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let text = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
        let number = || text.parse::<i64>().expect("a number in the reply");
        Ok(match line[0] {
            b'+' => Reply::Status(text),
            b'-' => Reply::Error(text),
            b':' => Reply::Int(number()),
            b'$' if number() < 0 => Reply::Bulk(None),
            b'$' => {
                let mut data = vec![0; number() as usize + 2];
                self.reader.read_exact(&mut data)?;
                data.truncate(data.len() - 2);
                Reply::Bulk(Some(data))
            }
            b'*' => {
                let items = (0..number().max(0))
                    .map(|_| self.read_reply())
                    .collect::<std::io::Result<_>>()?;
                Reply::Array(items)
            }
            other => panic!("unexpected reply type {:?}", other as char),
        })
    }
}

/// Runs redis-check-rdb on `path` and asserts that it approves.
fn assert_redis_check_rdb_ok(path: &Path) {
    require_binary("redis-check-rdb");
    let output = Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("run redis-check-rdb");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && text.contains("RDB looks OK"),
        "redis-check-rdb refused {}:\n{text}",
        path.display()
    );
}

/// Reads every database of a running server with GET and PEXPIRETIME
/// and compares it with `data`.
fn assert_server_holds(server: &RedisServer, data: &Dataset) {
    let mut conn = server.conn();
    for db in 0..16u64 {
        let expected = data.get(&db).cloned().unwrap_or_default();
        conn.cmd(&[b"SELECT", db.to_string().as_bytes()]);
        let size = conn.cmd(&[b"DBSIZE"]);
        assert_eq!(size, Reply::Int(expected.len() as i64), "DBSIZE of db {db}");
        for (key, (value, at)) in &expected {
            let got = conn.cmd(&[b"GET", key]);
            assert!(
                got == Reply::Bulk(Some(value.clone())),
                "db {db} key {:?}: GET gave {:?}",
                String::from_utf8_lossy(key),
                got
            );
            let ttl = conn.cmd(&[b"PEXPIRETIME", key]);
            assert_eq!(ttl, Reply::Int(at.unwrap_or(-1)), "db {db} key {key:?}");
            if at.is_some() {
                let Reply::Int(pttl) = conn.cmd(&[b"PTTL", key]) else {
                    panic!("PTTL did not reply with an integer");
                };
                assert!(pttl > 0, "db {db} key {key:?}: PTTL {pttl}");
            }
        }
    }
}

// Real Redis 7.0 accepts our dumps: redis-check-rdb approves them, and
// redis-server loads them to exactly our dataset, whether or not they
// are compressed or checksummed.
#[test]
fn real_redis_loads_our_dump() {
    let data = varied_dataset(now_ms() + 3_600_000);
    for (compress, checksum) in [(true, true), (false, false)] {
        let dir = ScratchDir::new("ours");
        let file = dir.path().join("ours.rdb");
        std::fs::write(&file, encode(&data, compress, checksum)).unwrap();
        assert_redis_check_rdb_ok(&file);
        let server = RedisServer::start(dir.path(), "ours.rdb");
        assert_server_holds(&server, &data);
        let log = server.log_text();
        assert!(log.contains("DB loaded from disk"), "log:\n{log}");
    }
}

/// Starts an empty Redis in `dir`, fills it with `data` using SET and
/// PEXPIREAT, lets `extra` add more, runs SAVE and stops it. Returns the
/// dump's bytes.
fn dump_from_real_redis(dir: &Path, data: &Dataset, extra: impl FnOnce(&mut Conn)) -> Vec<u8> {
    let server = RedisServer::start(dir, "dump.rdb");
    let mut conn = server.conn();
    for (db, keys) in data {
        conn.cmd(&[b"SELECT", db.to_string().as_bytes()]);
        for (key, (value, at)) in keys {
            conn.cmd(&[b"SET", key, value]);
            if let Some(at) = at {
                let reply = conn.cmd(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
                assert_eq!(reply, Reply::Int(1));
            }
        }
    }
    extra(&mut conn);
    assert_eq!(conn.cmd(&[b"SAVE"]), Reply::Status("OK".into()));
    drop(server);
    std::fs::read(dir.join("dump.rdb")).expect("redis-server wrote no dump.rdb")
}

// A dump written by real Redis 7.0 decodes to exactly what was stored.
#[test]
fn real_redis_dump_decodes() {
    let dir = ScratchDir::new("theirs");
    let data = varied_dataset(now_ms() + 3_600_000);
    let dump = dump_from_real_redis(dir.path(), &data, |_| {});
    let decoded = decode(&dump).unwrap();
    assert_eq!(decoded.data, data);
    assert_eq!(decoded.aux[&b"redis-ver"[..]], b"7.0.15");
    assert_eq!(decoded.aux[&b"redis-bits"[..]], b"64");
    assert!(matches!(decoded.checksum, Checksum::Verified(_)));
    // Redis compressed the long compressible values as we do.
    assert!(dump.len() < 400_000, "dump is {} bytes", dump.len());
}

// A real dump holding a list decodes to the same elements, and a key the
// real Redis stores as a stream is still refused by name.
#[test]
fn real_redis_list_is_read() {
    let dir = ScratchDir::new("list");
    let mut data = Dataset::new();
    data.entry(0)
        .or_default()
        .insert(b"plain".to_vec(), (b"string".to_vec(), None));
    let dump = dump_from_real_redis(dir.path(), &data, |conn| {
        conn.cmd(&[b"RPUSH", b"mylist", b"a", b"b", b"12"]);
    });
    let mut reader = RdbReader::new(&dump[..]).expect("header");
    let mut list = None;
    while let Some(event) = reader.next_event().expect("a readable dump") {
        if let RdbEvent::Entry(entry) = event {
            if entry.key == b"mylist" {
                list = Some(entry.value);
            }
        }
    }
    let Some(Value::List(list)) = list else {
        panic!("mylist must decode as a list");
    };
    let elements: Vec<Vec<u8>> = list.iter().map(|entry| entry.to_vec()).collect();
    assert_eq!(elements, [b"a".to_vec(), b"b".to_vec(), b"12".to_vec()]);
    let dir = ScratchDir::new("stream");
    let dump = dump_from_real_redis(dir.path(), &Dataset::new(), |conn| {
        conn.cmd(&[b"XADD", b"mystream", b"*", b"f", b"v"]);
    });
    let error = decode(&dump).err().expect("a stream must be refused");
    assert!(
        matches!(
            error.kind,
            RdbErrorKind::UnsupportedType { rdb_type: 15 | 19 | 21, ref key } if key == b"mystream"
        ),
        "{error}"
    );
}
