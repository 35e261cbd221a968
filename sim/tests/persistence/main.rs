//! Persistence on `SimDisk`, driven by hand: the AOF under each fsync
//! policy, the reply barrier, every write and fsync error path, loading
//! damaged files, background rewrites and saves, and restarts after
//! process crashes and power loss.

mod harness;

use harness::Harness;
use redoubt_core::env::Disk;
use redoubt_sim::world::disk::{CrashKind, DiskOptions};

// Acknowledged writes come back after a process crash under every policy.
#[test]
fn restart_after_process_crash_keeps_acknowledged_writes() {
    for policy in ["always", "everysec", "no"] {
        let mut h = Harness::aof(policy);
        let c = h.connect();
        assert_eq!(h.send(c, &["SET", "a", "1"]), "+OK\r\n");
        assert_eq!(h.send(c, &["INCR", "n"]), ":1\r\n");
        assert_eq!(h.send(c, &["INCR", "n"]), ":2\r\n");
        assert_eq!(h.send(c, &["SELECT", "3"]), "+OK\r\n");
        assert_eq!(h.send(c, &["SET", "b", "x", "EX", "100"]), "+OK\r\n");
        h.restart(CrashKind::Process).unwrap();
        let c = h.connect();
        assert_eq!(
            h.send(c, &["MGET", "a", "n"]),
            "*2\r\n$1\r\n1\r\n$1\r\n2\r\n",
            "{policy}"
        );
        h.send(c, &["SELECT", "3"]);
        assert_eq!(h.send(c, &["GET", "b"]), "$1\r\nx\r\n", "{policy}");
        let ttl: i64 = h
            .send(c, &["TTL", "b"])
            .trim_start_matches(':')
            .trim()
            .parse()
            .unwrap();
        assert!(
            (99..=100).contains(&ttl),
            "{policy}: relative expiry was logged as absolute"
        );
    }
}

// Under always, every acknowledged write survives power loss, and one fsync
// covers all clients of an iteration (group commit).
#[test]
fn always_survives_power_loss_with_group_commit() {
    let mut h = Harness::aof("always");
    let clients: Vec<_> = (0..5).map(|_| h.connect()).collect();
    let fsyncs_before = h.disk().fsync_count();
    let keys: Vec<String> = (0..5).map(|i| format!("k{i}")).collect();
    let commands: Vec<(u64, Vec<&str>)> = clients
        .iter()
        .zip(&keys)
        .map(|(c, k)| (*c, vec!["SET", k.as_str(), "v"]))
        .collect();
    let batch: Vec<(u64, &[&str])> = commands.iter().map(|(c, a)| (*c, a.as_slice())).collect();
    h.send_together(&batch);
    for c in &clients {
        assert_eq!(
            h.replies(*c),
            "",
            "no reply before the fsync that covers it"
        );
    }
    h.advance(30);
    assert_eq!(
        h.disk().fsync_count() - fsyncs_before,
        1,
        "one fsync for the whole iteration"
    );
    for c in &clients {
        assert_eq!(h.replies(*c), "+OK\r\n");
    }
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["DBSIZE"]), ":5\r\n");
}

// Under everysec, writes acknowledged more than two seconds before power
// loss survive; the fsync runs in the background about once a second.
#[test]
fn everysec_survives_power_loss_after_two_seconds() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "early", "1"]), "+OK\r\n");
    h.advance(2100);
    assert_eq!(h.info_field("aof_pending_bio_fsync"), "0");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "early"]), "$1\r\n1\r\n");
}

// Under no, nothing is fsynced: power loss right after writes loses them,
// but a process crash does not.
#[test]
fn no_policy_is_page_cache_only() {
    let mut h = Harness::aof("no");
    let c = h.connect();
    h.send(c, &["SET", "k", "v"]);
    h.advance(3000);
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "k"]), "$1\r\nv\r\n");
    h.send(c, &["SET", "j", "v"]);
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "j"]), "$-1\r\n");
}

// While a background fsync is slow, everysec postpones the write (up to two
// seconds) and holds the replies that depend on it; then it writes anyway
// and counts aof_delayed_fsync.
#[test]
fn everysec_postpones_write_and_holds_replies() {
    let disk = DiskOptions {
        fsync_delay_ms_min: 5000,
        fsync_delay_ms_max: 5000,
        ..DiskOptions::default()
    };
    let mut h = Harness::new(&[("appendonly", "yes"), ("appendfsync", "everysec")], disk);
    h.start().unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "a", "1"]), "+OK\r\n");
    h.advance(1100);
    assert_eq!(h.info_field("aof_pending_bio_fsync"), "1");
    assert_eq!(
        h.send_now(c, &["SET", "b", "2"]),
        "",
        "reply held while its write is postponed"
    );
    h.advance(1000);
    assert_eq!(h.replies(c), "");
    h.advance(1100);
    assert_eq!(h.replies(c), "+OK\r\n");
    assert_eq!(h.info_field("aof_delayed_fsync"), "1");
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

// A short write is cut back to the last complete batch; the buffer is kept,
// writes are refused with MISCONF, replies wait, and the retry writes the
// batch exactly once.
#[test]
fn short_write_is_truncated_and_retried_once() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    h.send(c, &["INCR", "n"]);
    let incr = h.last_incr_path();
    let size_before = h.file(&incr).len();
    // Every write attempt fails short until disarmed.
    h.disk().arm().short_writes = 1000;
    assert_eq!(
        h.send_now(c, &["INCR", "n"]),
        "",
        "reply held: its write did not reach the file"
    );
    assert_eq!(h.file(&incr).len(), size_before, "partial batch cut off");
    assert_eq!(h.info_field("aof_last_write_status"), "err");
    let d = h.connect();
    let refused = h.send(d, &["SET", "x", "1"]);
    assert!(
        refused.starts_with("-MISCONF Errors writing to the AOF file: short write"),
        "{refused}"
    );
    assert_eq!(
        h.send(d, &["GET", "n"]),
        "$1\r\n2\r\n",
        "reads still served under everysec"
    );
    assert_eq!(
        h.file(&incr).len(),
        size_before,
        "every failed attempt was cut back"
    );
    h.disk().arm().short_writes = 0;
    h.advance(200);
    assert_eq!(h.replies(c), ":2\r\n");
    assert_eq!(h.info_field("aof_last_write_status"), "ok");
    assert!(h.logged("AOF write error looks solved, Redis can write again."));
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["GET", "n"]),
        "$1\r\n2\r\n",
        "the retried batch was written exactly once"
    );
}

// If the truncate after a short write fails too, nothing else is written
// until it succeeds.
#[test]
fn failed_truncate_is_retried_before_any_write() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    h.send(c, &["SET", "a", "1"]);
    h.disk().arm().short_writes = 1;
    h.disk().arm().truncate_errors = 2;
    assert_eq!(h.send_now(c, &["SET", "b", "2"]), "");
    h.advance(500);
    assert_eq!(h.replies(c), "+OK\r\n");
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

// A full disk: MISCONF for writes meanwhile, no crash, no reply before its
// write; once space returns the server resumes by itself.
#[test]
fn enospc_then_space_returns() {
    let mut h = Harness::aof("always");
    let c = h.connect();
    h.send(c, &["SET", "a", "1"]);
    h.disk().set_capacity_bytes(0);
    assert_eq!(
        h.send_now(c, &["SET", "b", "2"]),
        "",
        "under always the reply waits"
    );
    let d = h.connect();
    let refused = h.send(d, &["SET", "c", "3"]);
    assert!(
        refused.starts_with("-MISCONF Errors writing to the AOF file: No space left on device"),
        "{refused}"
    );
    assert_eq!(
        h.send_now(d, &["GET", "a"]),
        "",
        "under always reads wait too: b is not on disk yet"
    );
    h.advance(1000);
    assert_eq!(h.replies(c), "");
    h.disk().set_capacity_bytes(1 << 30);
    h.advance(200);
    assert_eq!(h.replies(c), "+OK\r\n");
    assert_eq!(h.replies(d), "$1\r\n1\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "b", "c"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"
    );
}

// An fsync error poisons the INCR file: writes are refused until a fresh
// BASE from memory replaces the files; then the server accepts writes and
// the data survives power loss.
#[test]
fn fsync_error_rewrites_base_from_memory() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    h.send(c, &["SET", "a", "1"]);
    h.disk().arm().fsync_errors = 1;
    h.advance(1100);
    assert!(h.logged("Can't persist AOF for fsync error"));
    let refused = h.send(c, &["SET", "b", "2"]);
    assert!(
        refused.starts_with("-MISCONF Errors writing to the AOF file"),
        "{refused}"
    );
    h.advance(1100);
    assert!(h.logged("AOF recovered from the fsync error"));
    assert_eq!(h.send(c, &["SET", "b", "2"]), "+OK\r\n");
    assert!(h.manifest().contains(".base."), "{}", h.manifest());
    h.advance(2100);
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

// Under always, a failed fsync never lets a reply out; recovery then
// releases it.
#[test]
fn always_fsync_error_holds_replies_until_recovery() {
    let mut h = Harness::aof("always");
    let c = h.connect();
    h.disk().arm().fsync_errors = 1;
    assert_eq!(h.send_now(c, &["SET", "a", "1"]), "");
    h.advance(1200);
    assert_eq!(h.replies(c), "+OK\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "a"]), "$1\r\n1\r\n");
}

/// Writes keys, then damages the tail of the last INCR file with `tail`
/// and restarts. Returns the harness (running or not) and the start result.
fn restart_with_tail(
    tail: &[u8],
    load_truncated: bool,
) -> (Harness, Result<(), String>, usize, String) {
    let truncated = if load_truncated { "yes" } else { "no" };
    let mut h = Harness::new(
        &[
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("aof-load-truncated", truncated),
        ],
        DiskOptions::default(),
    );
    h.start().unwrap();
    let c = h.connect();
    h.send(c, &["SET", "a", "1"]);
    h.send(c, &["SET", "b", "2"]);
    let incr = h.last_incr_path();
    h.crash(CrashKind::Process);
    let mut bytes = h.file(&incr);
    let good = bytes.len();
    bytes.extend_from_slice(tail);
    h.disk().overwrite(&incr, &bytes).unwrap();
    let started = h.start();
    (h, started, good, incr)
}

// A torn tail (partial command, zeros, garbage) is cut at the last complete
// batch, logged in Redis's words, reported in INFO, and the server starts.
#[test]
fn torn_tails_are_truncated() {
    for tail in [
        &b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1"[..],
        &[0u8; 512][..],
        &b"\xde\xad\xbe\xefgarbage\r\n"[..],
    ] {
        let (mut h, started, good, _) = restart_with_tail(tail, true);
        started.unwrap();
        let c = h.connect();
        assert_eq!(
            h.send(c, &["MGET", "a", "b", "c"]),
            "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n"
        );
        assert!(h.logged("!!! Truncating the AOF incr file"), "{:?}", h.logs);
        assert!(h.logged("AOF loaded anyway because aof-load-truncated is enabled"));
        assert_eq!(h.info_field("aof_load_truncated_offset"), good.to_string());
        assert_eq!(
            h.info_field("aof_load_truncated_bytes"),
            tail.len().to_string()
        );
    }
}

// With aof-load-truncated no, a torn tail is a refusal naming the offset,
// and the file is left as it was.
#[test]
fn torn_tail_refused_without_load_truncated() {
    let (mut h, started, good, incr) = restart_with_tail(b"*2\r\n$3\r\nGET", false);
    let error = started.unwrap_err();
    assert!(
        error.contains("Unexpected end of file") && error.contains("aof-load-truncated"),
        "{error}"
    );
    assert_eq!(
        h.file(&incr).len(),
        good + 11,
        "the refused file is left as it was"
    );
}

// A torn tail is cut at load, and the fsync of the cut fails: the start is
// refused, and the next start must not trust the file (a later fsync of
// the same pages can succeed without saving them): it writes a fresh BASE.
// (Found by the swarm, seed 23761: the next start trusted it, and power
// loss then tore a file that was no longer the last.)
#[test]
fn failed_fsync_of_a_cut_tail_is_remembered_by_the_next_start() {
    let mut h = Harness::new(
        &[
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("aof-load-truncated", "yes"),
        ],
        DiskOptions::default(),
    );
    h.start().unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "a", "1"]), "+OK\r\n");
    let incr = h.last_incr_path();
    h.crash(CrashKind::Process);
    let mut bytes = h.file(&incr);
    bytes.extend_from_slice(&[0u8; 64]);
    h.disk().overwrite(&incr, &bytes).unwrap();
    h.disk().arm().fsync_errors = 1;
    let error = h.start().unwrap_err();
    assert!(error.contains("Error truncating"), "{error}");
    h.start().unwrap();
    assert!(h.logged("an fsync of the AOF failed before the last exit"));
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "a"]), "$1\r\n1\r\n");
}

// A MULTI without its EXEC at the tail is dropped whole, and cut from the
// file: writes acknowledged after that restart survive a second restart
// (Redis 7.0 left the dangling MULTI in place, so the next load swallowed
// the new writes into a transaction that never ends, and lost them).
#[test]
fn multi_without_exec_at_tail_is_dropped() {
    let (mut h, started, _, _) = restart_with_tail(
        b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3\r\n",
        true,
    );
    started.unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["EXISTS", "c"]), ":0\r\n");
    assert_eq!(h.send(c, &["SET", "d", "4"]), "+OK\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "b", "c", "d"]),
        "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$1\r\n4\r\n"
    );
    assert_eq!(h.info_field("aof_load_truncated_bytes"), "0");
}

/// Flips one byte inside the first batch of the last INCR file.
fn flip_in_first_batch(h: &mut Harness) -> String {
    let incr = h.last_incr_path();
    let mut bytes = h.file(&incr);
    let value_at = bytes.windows(5).position(|w| w == b"first").unwrap();
    bytes[value_at] ^= 0x20;
    h.disk().overwrite(&incr, &bytes).unwrap();
    incr
}

// A flipped bit before the tail is a refusal (valid batches follow), never
// a silent load of a value no client wrote.
#[test]
fn corruption_before_tail_is_refused() {
    let mut h = Harness::aof("always");
    let c = h.connect();
    h.send(c, &["SET", "k", "first"]);
    h.send(c, &["SET", "j", "second"]);
    h.crash(CrashKind::Process);
    flip_in_first_batch(&mut h);
    let error = h.start().unwrap_err();
    assert!(
        error.contains("Checksum mismatch") && error.contains("valid data follows"),
        "{error}"
    );
}

// A flipped bit in the last batch is a torn tail: that batch is dropped,
// the rest loads.
#[test]
fn corruption_in_last_batch_is_truncated() {
    let mut h = Harness::aof("always");
    let c = h.connect();
    h.send(c, &["SET", "j", "zero"]);
    h.send(c, &["SET", "k", "first"]);
    h.crash(CrashKind::Process);
    flip_in_first_batch(&mut h);
    h.start().unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "j", "k"]),
        "*2\r\n$4\r\nzero\r\n$-1\r\n"
    );
}

// BGREWRITEAOF runs in slices while writes continue; afterwards the
// manifest names one BASE and the new INCR file, history is deleted, and a
// restart loads exactly the dataset.
#[test]
fn background_rewrite_keeps_everything() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    for i in 0..3000 {
        h.send(c, &["SET", &format!("key:{i}"), &format!("{i}")]);
    }
    assert_eq!(
        h.send(c, &["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    assert_eq!(h.info_field("aof_rewrite_in_progress"), "1");
    h.send(c, &["SET", "key:0", "changed"]);
    h.send(c, &["DEL", "key:1"]);
    h.send(c, &["SET", "new", "1"]);
    h.advance(100);
    assert_eq!(h.info_field("aof_rewrite_in_progress"), "0");
    assert_eq!(h.info_field("aof_last_bgrewrite_status"), "ok");
    let manifest = h.manifest();
    // The checksum comment, then one BASE and one INCR.
    assert!(manifest.starts_with("#CK:"), "{manifest}");
    assert_eq!(manifest.lines().count(), 3, "{manifest}");
    assert!(
        manifest.contains("appendonly.aof.2.base.rdb") && manifest.contains("type i"),
        "{manifest}"
    );
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["DBSIZE"]), ":3000\r\n");
    assert_eq!(
        h.send(c, &["MGET", "key:0", "key:1", "new", "key:2999"]),
        "*4\r\n$7\r\nchanged\r\n$-1\r\n$1\r\n1\r\n$4\r\n2999\r\n"
    );
}

// A rewrite that fails (disk full) removes its temp file, keeps the old
// files and the main AOF going, and reports the error.
#[test]
fn failed_rewrite_keeps_old_files() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    for i in 0..2000 {
        h.send(c, &["SET", &format!("key:{i}"), "some value"]);
    }
    assert_eq!(
        h.send(c, &["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    let used = h.disk().used_bytes_total();
    h.disk().set_capacity_bytes(used + 100);
    h.advance(100);
    assert_eq!(h.info_field("aof_last_bgrewrite_status"), "err");
    let names = h.disk().list("appendonlydir").unwrap();
    assert!(
        names.iter().all(|name| !name.starts_with("temp-")),
        "{names:?}"
    );
    h.disk().set_capacity_bytes(1 << 30);
    assert_eq!(h.send(c, &["SET", "after", "1"]), "+OK\r\n");
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["DBSIZE"]), ":2001\r\n");
}

// BGSAVE writes a dump in slices that a restart without the AOF loads;
// SAVE and LASTSAVE work; the dump replaces the old one atomically.
#[test]
fn bgsave_and_restart_from_dump() {
    let mut h = Harness::new(&[], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    for i in 0..2500 {
        h.send(c, &["SET", &format!("key:{i}"), &format!("{i}")]);
    }
    h.send(c, &["SET", "ttl", "v", "PX", "500000"]);
    assert_eq!(h.send(c, &["BGSAVE"]), "+Background saving started\r\n");
    h.send(c, &["SET", "key:0", "after-snapshot"]);
    h.advance(100);
    assert_eq!(h.info_field("rdb_bgsave_in_progress"), "0");
    assert_eq!(h.info_field("rdb_last_bgsave_status"), "ok");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["DBSIZE"]), ":2501\r\n");
    assert_eq!(
        h.send(c, &["GET", "key:0"]),
        "$1\r\n0\r\n",
        "the snapshot is point-in-time"
    );
    assert_eq!(h.send(c, &["SAVE"]), "+OK\r\n");
    assert!(h.logged("DB saved on disk"));
}

/// Members, fields or elements per large value: several steps' worth.
const LARGE_VALUE_ELEMENTS: usize = 4000;

/// A sorted set, a hash, a set and a list of [`LARGE_VALUE_ELEMENTS`]
/// elements each, all in their large encodings.
fn fill_large_values(h: &mut Harness, c: u64) {
    let numbers: Vec<String> = (0..LARGE_VALUE_ELEMENTS).map(|i| i.to_string()).collect();
    let members: Vec<String> = (0..LARGE_VALUE_ELEMENTS).map(|i| format!("m{i}")).collect();
    for (numbers, members) in numbers.chunks(500).zip(members.chunks(500)) {
        let mut zadd = vec!["ZADD", "zset"];
        let mut hset = vec!["HSET", "hash"];
        for (number, member) in numbers.iter().zip(members) {
            zadd.extend([number.as_str(), member.as_str()]);
            hset.extend([member.as_str(), number.as_str()]);
        }
        let mut sadd = vec!["SADD", "set"];
        sadd.extend(members.iter().map(String::as_str));
        let mut rpush = vec!["RPUSH", "list"];
        rpush.extend(members.iter().map(String::as_str));
        for command in [zadd, hset, sadd, rpush] {
            assert!(h.send(c, &command).starts_with(':'), "{}", command[0]);
        }
    }
}

/// What the large values hold, as replies: a change to any shows.
fn large_values(h: &mut Harness, c: u64) -> Vec<String> {
    let mut seen = vec![
        h.send(c, &["ZRANGE", "zset", "0", "-1", "WITHSCORES"]),
        h.send(c, &["LRANGE", "list", "0", "-1"]),
        h.send(c, &["HLEN", "hash"]),
        h.send(c, &["SCARD", "set"]),
    ];
    for member in ["m0", "m1", "m2", "m3999", "new0", "new1"] {
        seen.push(h.send(c, &["HGET", "hash", member]));
        seen.push(h.send(c, &["SISMEMBER", "set", member]));
    }
    seen
}

/// Runs the running job a step at a time, changing every large value
/// between the first steps, until the job is done.
fn step_with_writes(h: &mut Harness, c: u64, in_progress: &str) {
    for step in 0..5 {
        h.node().on_tick();
        let (new, old) = (format!("new{step}"), format!("m{step}"));
        h.send(c, &["ZADD", "zset", "-1", &new]);
        h.send(c, &["ZREM", "zset", &old]);
        h.send(c, &["HSET", "hash", &new, "1"]);
        h.send(c, &["HDEL", "hash", &old]);
        h.send(c, &["SADD", "set", &new]);
        h.send(c, &["LSET", "list", &step.to_string(), &new]);
    }
    let running = h.info_field(in_progress);
    assert_eq!(running, "1", "5 steps do not write 16 000 elements");
    h.advance(1000);
    assert_eq!(h.info_field(in_progress), "0");
}

// Values far larger than a step's elements are written over many steps,
// by BGSAVE and into a RESP BASE, while commands change them between the
// steps, and by SAVE at once; each file holds them as they were when its
// snapshot started, and loads them whole.
#[test]
fn large_values_are_written_over_many_steps() {
    let mut h = Harness::new(&[], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    fill_large_values(&mut h, c);
    let before = large_values(&mut h, c);
    assert_eq!(h.send(c, &["BGSAVE"]), "+Background saving started\r\n");
    step_with_writes(&mut h, c, "rdb_bgsave_in_progress");
    assert_eq!(h.info_field("rdb_last_bgsave_status"), "ok");
    assert!(
        large_values(&mut h, c) != before,
        "the writes changed the values"
    );
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert!(large_values(&mut h, c) == before, "BGSAVE is point-in-time");

    fill_large_values(&mut h, c);
    h.send(c, &["HSET", "hash", "new0", "saved"]);
    let saved = large_values(&mut h, c);
    assert_eq!(h.send(c, &["SAVE"]), "+OK\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert!(
        large_values(&mut h, c) == saved,
        "SAVE writes all steps at once"
    );

    h.send(c, &["CONFIG", "SET", "aof-use-rdb-preamble", "no"]);
    h.send(c, &["CONFIG", "SET", "appendonly", "yes"]);
    h.config.set("appendonly", "yes").unwrap();
    let started = h.send(c, &["BGREWRITEAOF"]);
    assert_eq!(
        started,
        "+Background append only file rewriting started\r\n"
    );
    step_with_writes(&mut h, c, "aof_rewrite_in_progress");
    assert_eq!(h.info_field("aof_last_bgrewrite_status"), "ok");
    assert!(h.manifest().contains(".base.aof"), "a RESP BASE");
    let live = large_values(&mut h, c);
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert!(
        large_values(&mut h, c) == live,
        "the BASE and the INCR file replay"
    );
}

// A dump with a bad checksum is refused at start with a clear message.
#[test]
fn corrupt_dump_is_refused() {
    let mut h = Harness::new(&[], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    h.send(c, &["SET", "k", "value"]);
    assert_eq!(h.send(c, &["SAVE"]), "+OK\r\n");
    h.crash(CrashKind::Process);
    let mut dump = h.file("dump.rdb");
    let at = dump.windows(5).position(|w| w == b"value").unwrap();
    dump[at] ^= 1;
    h.disk().overwrite("dump.rdb", &dump).unwrap();
    let error = h.start().unwrap_err();
    assert!(error.contains("checksum"), "{error}");
}

// Turning appendonly off at run time fsyncs the file before closing it, as
// Redis's stopAppendOnly does: a write acknowledged under everysec just
// before survives power loss seconds later. (Found by the swarm once
// CONFIG SET appendonly joined its workload.)
#[test]
fn config_set_appendonly_no_fsyncs_before_closing() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "acked", "1"]), "+OK\r\n");
    assert_eq!(h.send(c, &["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    h.advance(3000);
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "acked"]), "$1\r\n1\r\n");
}

// Turning appendonly on at run time writes a BASE from memory first.
#[test]
fn config_set_appendonly_rewrites_first() {
    let mut h = Harness::new(&[], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    h.send(c, &["SET", "before", "1"]);
    assert_eq!(
        h.send(c, &["CONFIG", "SET", "appendonly", "yes"]),
        "+OK\r\n"
    );
    h.send(c, &["SET", "after", "2"]);
    h.config.set("appendonly", "yes").unwrap();
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "before", "after"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

// SHUTDOWN saves the dump when save points exist, and flushes the AOF.
#[test]
fn shutdown_saves_and_flushes() {
    let mut h = Harness::new(&[("save", "3600 1")], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    h.send(c, &["SET", "k", "v"]);
    h.send(c, &["SHUTDOWN"]);
    assert!(h.node().shutdown_requested());
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "k"]), "$1\r\nv\r\n");
}

// Expired keys and MULTI/EXEC are logged so that replay gives the same
// dataset: an expired key's DEL and a transaction's unit.
#[test]
fn expiry_and_transactions_replay() {
    let mut h = Harness::aof("always");
    let c = h.connect();
    h.send(c, &["SET", "gone", "v", "PX", "100"]);
    h.send(c, &["MULTI"]);
    h.send(c, &["INCR", "t"]);
    h.send(c, &["INCR", "t"]);
    assert_eq!(h.send(c, &["EXEC"]), "*2\r\n:1\r\n:2\r\n");
    h.advance(300);
    let incr = h.last_incr_path();
    let text = String::from_utf8_lossy(&h.file(&incr)).into_owned();
    assert!(
        text.contains("$5\r\nMULTI\r\n") && text.contains("$4\r\nEXEC\r\n"),
        "{text}"
    );
    assert!(
        text.contains("$3\r\nDEL\r\n$4\r\ngone\r\n"),
        "active expiry logs a DEL: {text}"
    );
    assert!(
        text.contains("PXAT"),
        "relative expiry logged as absolute: {text}"
    );
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "gone", "t"]),
        "*2\r\n$-1\r\n$1\r\n2\r\n"
    );
}

// A save point starts a BGSAVE by itself once enough changes and seconds
// have passed, and LASTSAVE moves.
#[test]
fn save_point_triggers_bgsave() {
    let mut h = Harness::new(&[("save", "5 3")], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    let before = h.send(c, &["LASTSAVE"]);
    for i in 0..3 {
        h.send(c, &["SET", &format!("k{i}"), "v"]);
    }
    h.advance(4000);
    assert_eq!(h.info_field("rdb_saves"), "0", "not before 5 seconds");
    h.advance(2000);
    assert!(
        h.logged("3 changes in 5 seconds. Saving..."),
        "{:?}",
        h.logs
    );
    assert_eq!(h.info_field("rdb_saves"), "1");
    assert_eq!(h.info_field("rdb_changes_since_last_save"), "0");
    assert_ne!(h.send(c, &["LASTSAVE"]), before);
}

// A failed BGSAVE (disk full) stops writes with Redis's MISCONF while save
// points exist and stop-writes-on-bgsave-error is on; a later good save
// lifts it.
#[test]
fn failed_bgsave_stops_writes_until_a_save_succeeds() {
    let mut h = Harness::new(&[("save", "3600 1")], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    for i in 0..1500 {
        h.send(c, &["SET", &format!("key:{i}"), "value"]);
    }
    let used = h.disk().used_bytes_total();
    h.disk().set_capacity_bytes(used + 4096);
    assert_eq!(h.send(c, &["BGSAVE"]), "+Background saving started\r\n");
    h.advance(100);
    assert_eq!(h.info_field("rdb_last_bgsave_status"), "err");
    let refused = h.send(c, &["SET", "x", "1"]);
    assert!(
        refused.starts_with("-MISCONF Redis is configured to save RDB snapshots"),
        "{refused}"
    );
    assert_eq!(h.send(c, &["GET", "key:1"]), "$5\r\nvalue\r\n");
    // An EXEC holding a write is refused too, and, as Redis's
    // execCommandAbort does, ends the transaction: the next command runs,
    // it is not queued. (Found by the swarm: a client kept queueing.)
    assert_eq!(h.send(c, &["MULTI"]), "+OK\r\n");
    assert_eq!(h.send(c, &["SET", "y", "1"]), "+QUEUED\r\n");
    let aborted = h.send(c, &["EXEC"]);
    assert!(
        aborted.starts_with(
            "-EXECABORT Transaction discarded because of: MISCONF Redis is configured to save RDB snapshots"
        ),
        "{aborted}"
    );
    assert_eq!(h.send(c, &["GET", "key:1"]), "$5\r\nvalue\r\n");
    assert_eq!(h.send(c, &["EXEC"]), "-ERR EXEC without MULTI\r\n");
    let names = h.disk().list(".").unwrap();
    assert!(
        names.iter().all(|n| !n.starts_with("temp-")),
        "temp file removed: {names:?}"
    );
    h.disk().set_capacity_bytes(1 << 30);
    assert_eq!(h.send(c, &["BGSAVE"]), "+Background saving started\r\n");
    h.advance(100);
    assert_eq!(h.send(c, &["SET", "x", "1"]), "+OK\r\n");
}

// The AOF rewrites itself when it has grown past the configured percentage
// and minimum size.
#[test]
fn automatic_rewrite_on_growth() {
    let directives = [
        ("appendonly", "yes"),
        ("auto-aof-rewrite-percentage", "100"),
        ("auto-aof-rewrite-min-size", "20kb"),
    ];
    let mut h = Harness::new(&directives, DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    for i in 0..2000 {
        h.send(c, &["SET", "same-key", &format!("value-{i}")]);
    }
    h.advance(500);
    assert!(
        h.logged("Starting automatic rewriting of AOF on"),
        "{:?}",
        h.logs
    );
    assert_eq!(h.info_field("aof_rewrites"), "1");
    let size: u64 = h.info_field("aof_current_size").parse().unwrap();
    assert!(size < 2000, "the rewrite kept one key: {size} bytes");
}

// Rewrites that keep failing back off, as Redis's aofRewriteLimited does.
#[test]
fn repeated_rewrite_failures_back_off() {
    let directives = [
        ("appendonly", "yes"),
        ("auto-aof-rewrite-percentage", "100"),
        ("auto-aof-rewrite-min-size", "1kb"),
    ];
    let mut h = Harness::new(&directives, DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    for i in 0..100 {
        h.send(c, &["SET", &format!("k{i}"), "some value to grow the file"]);
    } // Every rewrite fails: the disk is full.
    let used = h.disk().used_bytes_total();
    h.disk().set_capacity_bytes(used + 200);
    h.advance(1000);
    assert!(
        h.logged("Background AOF rewrite has repeatedly failed and triggered the limit"),
        "{:?}",
        h.logs
    );
    let failures: u32 = h
        .info_field("aof_rewrites_consecutive_failures")
        .parse()
        .unwrap();
    assert!(failures >= 3);
    h.advance(5000);
    assert_eq!(
        h.info_field("aof_rewrites_consecutive_failures"),
        failures.to_string(),
        "no attempt during the back-off"
    );
}

// BGREWRITEAOF during a BGSAVE is scheduled and runs after it; BGSAVE
// SCHEDULE during a rewrite likewise.
#[test]
fn scheduled_background_jobs() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    for i in 0..3000 {
        h.send(c, &["SET", &format!("key:{i}"), "v"]);
    }
    assert_eq!(h.send(c, &["BGSAVE"]), "+Background saving started\r\n");
    assert_eq!(
        h.send(c, &["BGREWRITEAOF"]),
        "+Background append only file rewriting scheduled\r\n"
    );
    assert_eq!(h.info_field("aof_rewrite_scheduled"), "1");
    assert_eq!(
        h.send(c, &["BGSAVE"]),
        "-ERR Background save already in progress\r\n"
    );
    h.advance(200);
    assert_eq!(h.info_field("rdb_saves"), "1");
    assert_eq!(h.info_field("aof_rewrites"), "1");
    assert_eq!(
        h.send(c, &["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    assert_eq!(
        h.send(c, &["BGSAVE"]),
        "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n"
    );
    assert_eq!(
        h.send(c, &["BGSAVE", "SCHEDULE"]),
        "+Background saving scheduled\r\n"
    );
    h.advance(200);
    assert_eq!(h.info_field("rdb_saves"), "2");
}

// BGREWRITEAOF and BGSAVE inside MULTI are scheduled after the
// transaction, as in Redis: a BASE taken inside EXEC would hold the
// transaction, which is then logged again in the new INCR file, and a
// restart would apply it twice. Found by the swarm (mix scenario).
#[test]
fn background_jobs_inside_exec_run_after_it() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    h.send(c, &["SET", "n", "0"]);
    h.send(c, &["MULTI"]);
    h.send(c, &["INCR", "n"]);
    h.send(c, &["BGREWRITEAOF"]);
    h.send(c, &["BGSAVE"]);
    assert_eq!(
        h.send(c, &["EXEC"]),
        "*3\r\n:1\r\n+Background append only file rewriting scheduled\r\n+Background saving scheduled\r\n",
        "both jobs wait for the transaction"
    );
    h.advance(500);
    assert_eq!(
        h.info_field("aof_rewrites"),
        "1",
        "the rewrite ran after EXEC"
    );
    assert_eq!(h.info_field("rdb_saves"), "1", "the save ran after EXEC");
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["GET", "n"]),
        "$1\r\n1\r\n",
        "the INCR is applied once, not once in the BASE and again from the INCR file"
    );
}

// CONFIG SET appendonly yes inside MULTI turns the AOF on once the
// transaction is propagated, so its BASE holds the transaction once.
#[test]
fn appendonly_switched_on_inside_exec_counts_the_transaction_once() {
    let mut h = Harness::new(&[], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    h.send(c, &["SET", "n", "0"]);
    h.send(c, &["MULTI"]);
    h.send(c, &["INCR", "n"]);
    h.send(c, &["CONFIG", "SET", "appendonly", "yes"]);
    h.send(c, &["INCR", "n"]);
    assert_eq!(h.send(c, &["EXEC"]), "*3\r\n:1\r\n+OK\r\n:2\r\n");
    assert_eq!(h.info_field("aof_enabled"), "1");
    h.send(c, &["INCR", "n"]);
    h.config.set("appendonly", "yes").unwrap();
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "n"]), "$1\r\n3\r\n", "every INCR once");
}

// A RESP BASE selects each database before its keys, also when the
// database's first keys are past their time: otherwise the keys of db 1
// land in db 0. Found by the swarm (mix scenario, SWAPDB and short
// expiries). Keys past their time are kept in the BASE (a wall clock set
// back serves them again; found by the swarm, seed 39485) and expire
// after the load.
#[test]
fn resp_base_selects_the_database_of_keys_past_their_time() {
    let mut h = Harness::new(
        &[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")],
        DiskOptions::default(),
    );
    h.start().unwrap();
    let c = h.connect();
    h.send(c, &["SET", "zero", "0"]);
    h.send(c, &["SELECT", "1"]);
    // Within one iteration, so that no active expiry runs before the
    // rewrite: db 1 holds one live key among keys already past their time.
    for i in 0..50 {
        h.send_now(c, &["SET", &format!("short:{i}"), "x", "PX", "1"]);
    }
    h.send_now(c, &["SET", "one", "1"]);
    h.skip_ms(5);
    assert_eq!(
        h.send_now(c, &["BGREWRITEAOF"]).lines().last(),
        Some("+Background append only file rewriting started")
    );
    h.advance(100);
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["GET", "one"]),
        "$-1\r\n",
        "db 0 holds no db 1 key"
    );
    h.send(c, &["SELECT", "1"]);
    assert_eq!(
        h.send(c, &["GET", "one"]),
        "$1\r\n1\r\n",
        "db 1 kept its key"
    );
    assert_eq!(h.send(c, &["GET", "short:7"]), "$-1\r\n", "past its time");
    h.advance(2000);
    assert_eq!(h.send(c, &["DBSIZE"]), ":1\r\n", "the rest expired");
}

// A key past its time when a rewrite starts, served again after the wall
// clock is set back, keeps what it is written after the rewrite: the BASE
// holds it, so an INCR in the INCR file loads on top of it. (The swarm,
// seed 39485: the BASE skipped it, and the restart recovered "1".)
#[test]
fn rewrite_keeps_keys_a_clock_set_back_serves_again() {
    let mut h = Harness::new(
        &[("appendonly", "yes"), ("aof-use-rdb-preamble", "no")],
        DiskOptions::default(),
    );
    h.start().unwrap();
    let c = h.connect();
    h.send_now(c, &["SET", "n", "10", "PX", "50"]);
    h.skip_ms(100);
    assert_eq!(
        h.send_now(c, &["BGREWRITEAOF"]).lines().last(),
        Some("+Background append only file rewriting started")
    );
    h.node().env_mut().clock.jump_wall_ms(-60_000);
    assert_eq!(h.send_now(c, &["INCR", "n"]), ":11\r\n");
    h.send_now(c, &["PERSIST", "n"]);
    h.advance(100);
    assert_eq!(h.info_field("aof_rewrite_in_progress"), "0");
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "n"]), "$2\r\n11\r\n");
}

// Save points count from the monotonic clock: a wall clock set back does
// not hold them back (nor the retry of a failed save). Found by the swarm
// (mix scenario, a backward jump after a failed save).
#[test]
fn save_points_ignore_wall_clock_jumps() {
    let mut h = Harness::new(&[("save", "2 1")], DiskOptions::default());
    h.start().unwrap();
    let c = h.connect();
    h.send(c, &["SET", "k", "v"]);
    h.node().env_mut().clock.jump_wall_ms(-600_000);
    h.advance(2500);
    assert_eq!(
        h.info_field("rdb_saves"),
        "1",
        "the save point came due after two seconds, whatever the wall clock says"
    );
}

// Changing appendfsync keeps the promise made under the old policy: what
// was written under everysec is fsynced even after a switch to `no`.
// Found by the swarm (mix scenario, CONFIG SET appendfsync no).
#[test]
fn switching_appendfsync_keeps_earlier_promises() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    h.advance(1500);
    h.send(c, &["SET", "k", "v"]);
    assert_eq!(
        h.send(c, &["CONFIG", "SET", "appendfsync", "no"]),
        "+OK\r\n"
    );
    h.advance(100);
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["GET", "k"]),
        "$1\r\nv\r\n",
        "the write acknowledged under everysec was fsynced at the switch"
    );
}

// Recovering from an fsync error writes a new BASE and a new manifest; if
// the manifest's directory cannot be fsynced, power loss may bring the old
// files back, so the held reply stays held until a recovery is durable.
// (Found by the swarm, seed 2458: the reply left, power loss lost it.)
#[test]
fn recovery_whose_manifest_is_not_durable_keeps_replies_held() {
    let mut h = Harness::aof("always");
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "a", "1"]), "+OK\r\n");
    h.disk().arm().fsync_errors = 1;
    assert_eq!(h.send_now(c, &["SET", "b", "2"]), "");
    h.advance(100);
    assert!(h.logged("Can't persist AOF for fsync error"));
    h.disk().arm().dir_fsync_errors = 1;
    h.advance(1100);
    assert!(h.logged("Can't fsync the directory of the AOF manifest"));
    assert!(!h.logged("AOF recovered from the fsync error"));
    assert_eq!(h.replies(c), "");
    h.advance(1100);
    assert!(h.logged("AOF recovered from the fsync error"));
    assert_eq!(h.replies(c), "+OK\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

// A start fsyncs the files it loaded; if that fsync fails, the pages it
// covered may never reach the disk, and Linux may report the next fsync of
// them as a success. The node writes a fresh BASE from memory; when that
// fails too it serves reads, refuses writes and retries, and a crash before
// it succeeds must not let the next start trust the files: the marker says
// so. (Found by the fsync-error scenario, seeds 162 and 952: the next start
// trusted the files and power loss left a hole in a non-last INCR file.)
#[test]
fn failed_fsync_at_start_is_remembered_by_the_next_start() {
    let mut h = Harness::aof("everysec");
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "a", "1"]), "+OK\r\n");
    h.crash(CrashKind::Process);
    h.disk().arm().fsync_errors = 2;
    h.start().unwrap();
    assert!(h.logged("writing a fresh BASE failed"));
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "a"]), "$1\r\n1\r\n");
    let refused = h.send(c, &["SET", "b", "2"]);
    assert!(refused.starts_with("-MISCONF"), "{refused}");
    h.crash(CrashKind::Process);
    h.start().unwrap();
    assert!(h.logged("an fsync of the AOF failed before the last exit"));
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "a"]), "$1\r\n1\r\n");
}

// The same, but the fresh BASE then succeeds from cron: writes resume and
// everything survives power loss.
#[test]
fn start_after_failed_fsync_recovers_from_cron() {
    let mut h = Harness::aof("always");
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "a", "1"]), "+OK\r\n");
    h.crash(CrashKind::Process);
    h.disk().arm().fsync_errors = 2;
    h.start().unwrap();
    h.advance(1100);
    assert!(h.logged("AOF recovered from the fsync error"));
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "b", "2"]), "+OK\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

/// Lays down a file as another program (Redis, an operator) would: created,
/// written whole and fsynced.
fn put_file(h: &mut Harness, path: &str, bytes: &[u8]) {
    use redoubt_core::env::OpenMode;
    let disk = h.disk();
    let dir = match path.rsplit_once('/') {
        Some((dir, _)) => {
            let _ = disk.create_dir(dir);
            disk.fsync_dir(".").unwrap();
            dir
        }
        None => ".",
    };
    let file = disk.open(path, OpenMode::CreateTruncate).unwrap();
    assert_eq!(disk.write(file, bytes).unwrap(), bytes.len());
    disk.fsync(file).unwrap();
    disk.close_file(file).unwrap();
    disk.fsync_dir(dir).unwrap();
}

/// Commands as RESP, as Redis writes them to an AOF.
fn resp(commands: &[&[&str]]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for argv in commands {
        redoubt_core::persist::aof_format::encode_command(&mut bytes, argv);
    }
    bytes
}

/// A harness with the AOF on whose node is not started yet.
fn unstarted_aof() -> Harness {
    Harness::new(
        &[("appendonly", "yes"), ("appendfsync", "always")],
        DiskOptions::default(),
    )
}

// A restart goes on appending to the last INCR file, as Redis 7 does: the
// manifest is unchanged, the file gets a marker and then the new batches,
// and what was written before and after survives power loss.
#[test]
fn restart_continues_the_last_incr_file() {
    let mut h = Harness::aof("always");
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "a", "1"]), "+OK\r\n");
    let manifest = h.manifest();
    let incr = h.last_incr_path();
    let before = h.file(&incr).len();
    h.restart(CrashKind::Process).unwrap();
    assert_eq!(h.manifest(), manifest, "no new INCR file on a start");
    assert!(
        h.logged("Opening AOF incr file appendonly.aof.1.incr.aof on server start"),
        "{:?}",
        h.logs
    );
    let marker = redoubt_core::persist::aof_format::marker();
    assert_eq!(
        h.file(&incr)[before..],
        marker[..],
        "a fsynced marker starts the new stretch"
    );
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "b", "2"]), "+OK\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    h.restart(CrashKind::PowerLoss).unwrap();
    assert_eq!(h.manifest(), manifest);
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

// An INCR file Redis wrote is continued too, and everything appended after
// the marker is checked batch by batch: a flipped bit in it, followed by a
// valid batch, is refused rather than loaded.
#[test]
fn continued_redis_file_is_checked_after_its_marker() {
    let mut h = unstarted_aof();
    put_file(
        &mut h,
        "appendonlydir/appendonly.aof.1.incr.aof",
        &resp(&[&["SELECT", "0"], &["SET", "a", "1"]]),
    );
    put_file(
        &mut h,
        "appendonlydir/appendonly.aof.manifest",
        b"file appendonly.aof.1.incr.aof seq 1 type i\n",
    );
    h.start().unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "k", "first"]), "+OK\r\n");
    assert_eq!(h.send(c, &["SET", "j", "second"]), "+OK\r\n");
    h.restart(CrashKind::Process).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "a", "k", "j"]),
        "*3\r\n$1\r\n1\r\n$5\r\nfirst\r\n$6\r\nsecond\r\n"
    );
    h.crash(CrashKind::Process);
    flip_in_first_batch(&mut h);
    let error = h.start().unwrap_err();
    assert!(error.contains("Checksum mismatch"), "{error}");
}

// A refused manifest is logged as Redis logs it (a banner, the line number
// counting comments, the line) and the reason is Redis's, word for word:
// the suite's aof-multi-part tests count these lines.
#[test]
fn manifest_refusals_in_redis_words() {
    let long_line = format!("file {} seq 1 type b\n", "x".repeat(1024));
    let cases: [(&[u8], &str, Option<&str>); 7] = [
        (b"", "Found an empty AOF manifest", None),
        (
            b"file appendonly.aof.1.incr.aof seq 1 type i\n\nfile appendonly.aof.3.incr.aof seq 3 type i\n",
            "Invalid AOF manifest file format",
            Some("at line 2"),
        ),
        (
            b"file appendonly.aof.1.base.aof seq 1 type x\n",
            "Unknown AOF file type",
            Some(">>> 'file appendonly.aof.1.base.aof seq 1 type x'"),
        ),
        (
            b"filx appendonly.aof.1.base.aof seq 1 type b\n",
            "Invalid AOF manifest file format",
            Some("at line 1"),
        ),
        (
            b"file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i newkey\n",
            "Invalid AOF manifest file format",
            Some("at line 2"),
        ),
        (
            long_line.as_bytes(),
            "The AOF manifest file contains too long line",
            None,
        ),
        (
            b"file appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
            "Found a non-monotonic sequence number",
            Some("at line 2"),
        ),
    ];
    for (text, reason, detail) in cases {
        let mut h = unstarted_aof();
        put_file(&mut h, "appendonlydir/appendonly.aof.manifest", text);
        assert_eq!(h.start().unwrap_err(), reason);
        assert!(
            h.logged("*** FATAL AOF MANIFEST FILE ERROR ***"),
            "{reason}"
        );
        if let Some(detail) = detail {
            assert!(h.logged(detail), "{reason}: {:?}", h.logs);
        }
    }
}

// A file the manifest names but the disk lacks is a refusal in Redis's
// words (the suite looks for the name followed by the system's message).
#[test]
fn missing_file_named_by_the_manifest_is_refused() {
    let mut h = unstarted_aof();
    put_file(
        &mut h,
        "appendonlydir/appendonly.aof.manifest",
        b"file appendonly.aof.1.incr.aof seq 1 type i\n",
    );
    let error = h.start().unwrap_err();
    assert!(
        error.starts_with("The append log file appendonly.aof.1.incr.aof doesn't exist: "),
        "{error}"
    );
}

// A pre-7 `appendonly.aof` in `dir`, with no AOF directory, is moved into
// one under a manifest naming it the BASE, as Redis 7 does; the start
// then appends to a first INCR file, and both survive power loss.
#[test]
fn pre_7_aof_is_upgraded_into_the_directory() {
    let mut h = unstarted_aof();
    put_file(&mut h, "appendonly.aof", &resp(&[&["SET", "k1", "v1"]]));
    h.start().unwrap();
    assert!(
        h.logged("Successfully migrated an old-style AOF file (appendonly.aof) into the AOF directory (appendonlydir)."),
        "{:?}",
        h.logs
    );
    assert!(h.disk().contents("appendonly.aof").is_none(), "moved");
    assert!(h.disk().contents("appendonlydir/appendonly.aof").is_some());
    let body: Vec<String> = h.manifest().lines().skip(1).map(str::to_string).collect();
    assert_eq!(
        body,
        [
            "file appendonly.aof seq 1 type b",
            "file appendonly.aof.1.incr.aof seq 1 type i"
        ]
    );
    let c = h.connect();
    assert_eq!(h.send(c, &["SET", "k2", "v2"]), "+OK\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(
        h.send(c, &["MGET", "k1", "k2"]),
        "*2\r\n$2\r\nv1\r\n$2\r\nv2\r\n"
    );
}

// An upgrade interrupted after its manifest and before the move (the
// manifest names only `appendonly.aof` as BASE, the file is still in
// `dir`) is finished by the next start.
#[test]
fn interrupted_upgrade_is_finished() {
    let mut h = unstarted_aof();
    put_file(&mut h, "appendonly.aof", &resp(&[&["SET", "k1", "v1"]]));
    put_file(
        &mut h,
        "appendonlydir/appendonly.aof.manifest",
        b"file appendonly.aof seq 1 type b\n",
    );
    h.start().unwrap();
    assert!(h.disk().contents("appendonly.aof").is_none(), "moved");
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "k1"]), "$2\r\nv1\r\n");
}

/// A harness whose AOF directory holds one INCR file with `bytes`, written
/// as Redis would (no marker, no trailers), under a manifest naming it.
fn with_redis_incr(bytes: &[u8], load_truncated: &str) -> Harness {
    let mut h = Harness::new(
        &[
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("aof-load-truncated", load_truncated),
        ],
        DiskOptions::default(),
    );
    put_file(&mut h, "appendonlydir/appendonly.aof.1.incr.aof", bytes);
    put_file(
        &mut h,
        "appendonlydir/appendonly.aof.manifest",
        b"file appendonly.aof.1.incr.aof seq 1 type i\n",
    );
    h
}

// In a file without trailers a format error cannot be told from a torn
// write: it is fatal, as it is to Redis, even with aof-load-truncated yes,
// and named in Redis's words (the suite reads the last log line).
#[test]
fn format_error_in_a_redis_file_is_refused() {
    let mut bytes = resp(&[&["SET", "foo", "hello"]]);
    bytes.extend_from_slice(b"!!!");
    bytes.extend_from_slice(&resp(&[&["SET", "foo", "hello"]]));
    let mut h = with_redis_incr(&bytes, "yes");
    let error = h.start().unwrap_err();
    assert!(
        error.starts_with("Bad file format reading the append only file appendonly.aof.1.incr.aof: make a backup of your AOF file"),
        "{error}"
    );
    assert_eq!(
        h.file("appendonlydir/appendonly.aof.1.incr.aof"),
        bytes,
        "left as it was"
    );
}

// A short read at the end of a Redis file is cut with aof-load-truncated
// yes, and the start goes on appending to that file: the next start loads
// the cut file and what came after.
#[test]
fn short_read_in_a_redis_file_is_cut_and_continued() {
    let mut bytes = resp(&[&["INCR", "foo"], &["INCR", "foo"]]);
    let good = bytes.len();
    bytes.extend_from_slice(&resp(&[&["INCR", "foo"]])[..10]);
    let mut h = with_redis_incr(&bytes, "yes");
    h.start().unwrap();
    assert_eq!(h.info_field("aof_load_truncated_offset"), good.to_string());
    let c = h.connect();
    assert_eq!(h.send(c, &["INCR", "foo"]), ":3\r\n");
    h.restart(CrashKind::PowerLoss).unwrap();
    let c = h.connect();
    assert_eq!(h.send(c, &["GET", "foo"]), "$1\r\n3\r\n");
    assert!(
        h.manifest()
            .ends_with("file appendonly.aof.1.incr.aof seq 1 type i\n"),
        "still one INCR file: {}\n{:?}",
        h.manifest(),
        h.logs
    );
}

// A command the server does not know is a refusal naming it, in Redis's
// words.
#[test]
fn unknown_command_in_the_aof_is_refused() {
    let bytes = resp(&[&["bla", "foo", "hello"], &["SET", "foo", "hello"]]);
    let mut h = with_redis_incr(&bytes, "yes");
    assert_eq!(
        h.start().unwrap_err(),
        "Unknown command 'bla' reading the append only file appendonly.aof.1.incr.aof"
    );
}

// A RESP BASE starts with its marker even when function libraries come
// first, so it is checked from its first command: a flipped bit in a
// library's code is refused, never loaded as different code.
#[test]
fn resp_base_with_functions_is_checked() {
    let mut h = Harness::new(
        &[
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("aof-use-rdb-preamble", "no"),
        ],
        DiskOptions::default(),
    );
    h.start().unwrap();
    let c = h.connect();
    let library =
        "#!lua name=mylib\nredis.register_function('myfunc', function() return 'first' end)";
    assert_eq!(h.send(c, &["FUNCTION", "LOAD", library]), "$5\r\nmylib\r\n");
    assert_eq!(
        h.send(c, &["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    h.advance(100);
    assert_eq!(h.info_field("aof_last_bgrewrite_status"), "ok");
    let base = Harness::aof_path("appendonly.aof.2.base.aof");
    let marker = redoubt_core::persist::aof_format::marker();
    assert!(
        h.file(&base).starts_with(&marker),
        "the BASE starts with its marker"
    );
    h.crash(CrashKind::Process);
    let mut bytes = h.file(&base);
    let at = bytes.windows(5).position(|w| w == b"first").unwrap();
    bytes[at] ^= 0x20;
    h.disk().overwrite(&base, &bytes).unwrap();
    let error = h.start().unwrap_err();
    assert!(error.contains("Checksum mismatch"), "{error}");
}
