//! The offline checkers, `redoubt-check-aof` and `redoubt-check-rdb`, run
//! as binaries on fixture files: their verdicts, exit codes and fixes, and
//! compatibility both ways with Debian's `redis-check-aof`,
//! `redis-check-rdb` and a real `redis-server` dump.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redoubt_core::db::Value;
use redoubt_core::persist::aof_format::{
    base_name, batch_trailer, encode_command, incr_name, manifest_name, AofFile, FileKind, Manifest,
};
use redoubt_core::persist::rdb::RdbWriter;

const CHECK_AOF: &str = env!("CARGO_BIN_EXE_redoubt-check-aof");
const CHECK_RDB: &str = env!("CARGO_BIN_EXE_redoubt-check-rdb");
const REDIS_SERVER: &str = "/usr/bin/redis-server";
const REDIS_CLI: &str = "/usr/bin/redis-cli";
const REDIS_CHECK_AOF: &str = "/usr/bin/redis-check-aof";
const REDIS_CHECK_RDB: &str = "/usr/bin/redis-check-rdb";
/// Longest wait for redis-server to answer or exit.
const REDIS_WAIT_MS_MAX: u64 = 10_000;

// ---------------------------------------------------------------------------
// Fixtures

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(label: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "redoubt-check-tools-{}-{n}-{label}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// RESP for a list of commands.
fn commands(list: &[&[&str]]) -> Vec<u8> {
    let mut out = Vec::new();
    for argv in list {
        encode_command(&mut out, argv);
    }
    out
}

/// An INCR file as the server writes it under `appendfsync always`: the
/// marker, then each batch followed by its trailer, which says that
/// everything before the batch was durable when it was written.
fn checked_incr(batches: &[Vec<u8>]) -> Vec<u8> {
    let mut file = batch_trailer(0, b"", None);
    for (index, batch) in batches.iter().enumerate() {
        let synced = Some(file.len() as u64);
        file.extend_from_slice(batch);
        file.extend_from_slice(&batch_trailer(index as u64 + 1, batch, synced));
    }
    file
}

/// Three ordinary batches.
fn three_batches() -> Vec<Vec<u8>> {
    vec![
        commands(&[&["SELECT", "0"], &["SET", "a", "1"]]),
        commands(&[&["SET", "b", "2"], &["INCR", "a"]]),
        commands(&[&["SET", "c", "3"]]),
    ]
}

/// Writes an AOF directory: an optional BASE (RDB when its bytes start
/// with `REDIS`), the INCR files in order, and the manifest. Returns the
/// manifest's path and the INCR files' paths.
fn write_aof_dir(dir: &TempDir, base: Option<&[u8]>, incrs: &[Vec<u8>]) -> (PathBuf, Vec<PathBuf>) {
    let mut manifest = Manifest::default();
    if let Some(bytes) = base {
        let name = base_name("appendonly.aof", 1, bytes.starts_with(b"REDIS"));
        fs::write(dir.join(&name), bytes).unwrap();
        manifest.base = Some(AofFile {
            name,
            seq: 1,
            kind: FileKind::Base,
        });
    }
    let mut paths = Vec::new();
    for (index, bytes) in incrs.iter().enumerate() {
        let name = incr_name("appendonly.aof", index as u64 + 1);
        fs::write(dir.join(&name), bytes).unwrap();
        paths.push(dir.join(&name));
        manifest.incrs.push(AofFile {
            name,
            seq: index as u64 + 1,
            kind: FileKind::Incr,
        });
    }
    let manifest_path = dir.join(&manifest_name("appendonly.aof"));
    fs::write(&manifest_path, manifest.to_text()).unwrap();
    (manifest_path, paths)
}

/// A dump written with core's RdbWriter: two strings, one with a future
/// expiry, in databases 0 and 2.
fn redoubt_dump() -> Vec<u8> {
    let mut writer = RdbWriter::new(true, true);
    let mut out = Vec::new();
    writer.header(&mut out, &[("redis-ver", b"7.0.15")]);
    writer.aux_int(&mut out, "redis-bits", 64);
    writer.select_db(&mut out, 0, 2, 1);
    writer.entry(&mut out, b"k", &Value::String(b"v".to_vec()), None);
    let long = vec![b'x'; 300];
    let far = 4_000_000_000_000;
    writer.entry(&mut out, b"long", &Value::String(long), Some(far));
    writer.select_db(&mut out, 2, 1, 0);
    writer.entry(&mut out, b"n", &Value::String(b"12345".to_vec()), None);
    writer.finish(&mut out);
    out
}

/// Runs a binary with `stdin`; returns its exit code and stdout.
fn run(program: &str, args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program}: {e}"));
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    (output.status.code(), format!("{stdout}{stderr}"))
}

fn check_aof(args: &[&Path], stdin: &str) -> (Option<i32>, String) {
    let args: Vec<&str> = args.iter().map(|p| p.to_str().unwrap()).collect();
    run(CHECK_AOF, &args, stdin)
}

fn check_aof_flag(flag: &[&str], path: &Path, stdin: &str) -> (Option<i32>, String) {
    let mut args = flag.to_vec();
    args.push(path.to_str().unwrap());
    run(CHECK_AOF, &args, stdin)
}

fn has_debian_tools() -> bool {
    [REDIS_SERVER, REDIS_CLI, REDIS_CHECK_AOF, REDIS_CHECK_RDB]
        .iter()
        .all(|tool| Path::new(tool).exists())
}

// ---------------------------------------------------------------------------
// redoubt-check-aof

// A RESP BASE and two checked INCR files are valid, with Redis's lines.
#[test]
fn valid_multi_part_directory() {
    let dir = TempDir::new("valid");
    let base = commands(&[&["SELECT", "0"], &["SET", "base", "1"]]);
    let incrs = [
        checked_incr(&three_batches()),
        checked_incr(&three_batches()[..1]),
    ];
    let (manifest, _) = write_aof_dir(&dir, Some(&base), &incrs);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(0), "{out}");
    for line in [
        "Start checking Multi Part AOF",
        "Start to check BASE AOF (RESP format).",
        "BASE AOF appendonly.aof.1.base.aof is valid",
        "Start to check INCR files.",
        "INCR AOF appendonly.aof.1.incr.aof is valid",
        "INCR AOF appendonly.aof.2.incr.aof is valid",
        "All AOF files and manifest are valid",
        "3 batches verified",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let size = incrs[0].len();
    let analyzed = format!(
        "AOF analyzed: filename=appendonly.aof.1.incr.aof, size={size}, ok_up_to={size}, ok_up_to_line="
    );
    assert!(out.contains(&analyzed), "{out}");
}

// An RDB BASE is checked with redis-check-rdb's output, then the INCR file.
#[test]
fn rdb_base_is_checked_as_rdb() {
    let dir = TempDir::new("rdb-base");
    let (manifest, _) = write_aof_dir(
        &dir,
        Some(&redoubt_dump()),
        &[checked_incr(&three_batches())],
    );
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Start to check BASE AOF (RDB format)."),
        "{out}"
    );
    assert!(
        out.contains("[offset 0] Checking RDB file appendonly.aof.1.base.rdb"),
        "{out}"
    );
    assert!(
        out.contains("RDB preamble is OK, proceeding with AOF tail..."),
        "{out}"
    );
}

// A torn last command is reported, cut by --fix after "y", and then valid.
#[test]
fn torn_tail_is_fixed() {
    let dir = TempDir::new("torn");
    let mut incr = checked_incr(&three_batches());
    let good = incr.len() as u64;
    incr.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nd");
    let (manifest, incrs) = write_aof_dir(&dir, None, &[incr]);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("ok_up_to={good}")), "{out}");
    assert!(out.contains("the file ends inside the command"), "{out}");
    assert!(out.contains("torn tail"), "{out}");
    assert!(
        out.contains("is not valid. Use the --fix option to try fixing it."),
        "{out}"
    );

    let (code, out) = check_aof_flag(&["--fix"], &manifest, "y\n");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Continue? [y/N]: "), "{out}");
    assert!(
        out.contains("Successfully truncated AOF appendonly.aof.1.incr.aof"),
        "{out}"
    );
    assert_eq!(fs::metadata(&incrs[0]).unwrap().len(), good);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(0), "{out}");
}

// --fix without a "y" (EOF or "n") aborts and leaves the file alone.
#[test]
fn fix_needs_yes() {
    let dir = TempDir::new("no");
    let mut incr = checked_incr(&three_batches());
    incr.extend_from_slice(b"*1\r\n$4\r\nPI");
    let size = incr.len() as u64;
    let (manifest, incrs) = write_aof_dir(&dir, None, &[incr]);
    for answer in ["", "n\n"] {
        let (code, out) = check_aof_flag(&["--fix"], &manifest, answer);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("Aborting..."), "{out}");
        assert_eq!(fs::metadata(&incrs[0]).unwrap().len(), size);
    }
}

// Zeros after the last batch are bad format, a torn tail, and fixable.
#[test]
fn zeros_tail_is_fixed() {
    let dir = TempDir::new("zeros");
    let mut incr = checked_incr(&three_batches());
    let good = incr.len() as u64;
    incr.extend_from_slice(&[0; 4096]);
    let (manifest, incrs) = write_aof_dir(&dir, None, &[incr]);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!("bad format at offset {good}")),
        "{out}"
    );
    assert!(
        out.contains("AOF appendonly.aof.1.incr.aof format error"),
        "{out}"
    );
    let (code, out) = check_aof_flag(&["--fix"], &manifest, "y\n");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(fs::metadata(&incrs[0]).unwrap().len(), good);
}

// A flipped byte in the last batch is a checksum mismatch at the tail:
// --fix cuts that batch only.
#[test]
fn checksum_mismatch_in_last_batch_is_a_tail() {
    let dir = TempDir::new("crc-tail");
    let batches = three_batches();
    let mut incr = checked_incr(&batches);
    let last_batch_start = checked_incr(&batches[..2]).len();
    incr[last_batch_start + 10] ^= 0x01;
    let (manifest, incrs) = write_aof_dir(&dir, None, &[incr]);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "checksum mismatch in batch 3 (the batch from offset {last_batch_start}"
        )),
        "{out}"
    );
    assert!(out.contains("torn tail"), "{out}");
    let (code, out) = check_aof_flag(&["--fix"], &manifest, "y\n");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        fs::metadata(&incrs[0]).unwrap().len(),
        last_batch_start as u64
    );
}

// Power loss can write back a later page of an unsynced tail and not an
// earlier one: a hole of zeros, then a valid batch whose trailer says the
// hole was not yet durable when it was written. That is a torn tail:
// --fix cuts at the hole.
#[test]
fn hole_in_unsynced_tail_before_a_valid_batch_is_a_tail() {
    let dir = TempDir::new("hole");
    let batches = three_batches();
    let synced_part = checked_incr(&batches[..1]);
    let good = synced_part.len() as u64;
    let mut incr = synced_part.clone();
    let hole = checked_incr(&batches[..2]).len() - synced_part.len();
    incr.extend_from_slice(&vec![0; hole]);
    let third = &batches[2];
    incr.extend_from_slice(third);
    incr.extend_from_slice(&batch_trailer(3, third, Some(good)));
    let (manifest, incrs) = write_aof_dir(&dir, None, &[incr]);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("torn tail"),
        "the later batch vouches only for what came before the hole: {out}"
    );
    let (code, out) = check_aof_flag(&["--fix"], &manifest, "y\n");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(fs::metadata(&incrs[0]).unwrap().len(), good);
}

// A checksum mismatch in batch 1 followed by a valid batch is corruption
// before the tail: --fix refuses, names file and offset, changes nothing.
#[test]
fn checksum_mismatch_before_valid_batch_is_refused() {
    let dir = TempDir::new("crc-mid");
    let mut incr = checked_incr(&three_batches());
    let marker = batch_trailer(0, b"", None).len();
    incr[marker + 20] ^= 0x01;
    let before = incr.clone();
    let (manifest, incrs) = write_aof_dir(&dir, None, &[incr]);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("checksum mismatch in batch 1"), "{out}");
    assert!(out.contains("corruption before the tail"), "{out}");
    assert!(out.contains("--fix cannot repair it"), "{out}");

    let (code, out) = check_aof_flag(&["--fix"], &manifest, "y\n");
    assert_eq!(code, Some(1), "{out}");
    let refusal = format!("Refusing to truncate AOF appendonly.aof.1.incr.aof at offset {marker}");
    assert!(out.contains(&refusal), "{out}");
    assert!(out.contains("replica or a backup"), "{out}");
    assert!(!out.contains("Continue?"), "{out}");
    assert_eq!(fs::read(&incrs[0]).unwrap(), before);
}

// A bulk length corrupted to run past the end of the file looks like a
// torn command, but verified batches follow it: --fix refuses (stricter
// than the loader, which treats every incomplete command as a tail).
#[test]
fn length_running_past_eof_before_valid_batches_is_refused() {
    let dir = TempDir::new("long-length");
    let incr = checked_incr(&three_batches());
    let marker = batch_trailer(0, b"", None).len();
    let text = String::from_utf8(incr).unwrap();
    let corrupted = text.replacen("$1\r\n0\r\n", "$9999\r\n0\r\n", 1);
    let (manifest, incrs) = write_aof_dir(&dir, None, &[corrupted.clone().into_bytes()]);
    let (code, out) = check_aof_flag(&["--fix"], &manifest, "y\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("corruption before the tail"), "{out}");
    let refusal = format!("Refusing to truncate AOF appendonly.aof.1.incr.aof at offset {marker}");
    assert!(out.contains(&refusal), "{out}");
    assert_eq!(fs::read(&incrs[0]).unwrap(), corrupted.into_bytes());
}

// A MULTI without EXEC at the tail of a Redis-written file is cut at the
// MULTI, keeping the commands before it.
#[test]
fn multi_without_exec_is_cut_at_multi() {
    let dir = TempDir::new("multi");
    let mut incr = commands(&[&["SELECT", "0"], &["SET", "a", "1"]]);
    let multi_at = incr.len() as u64;
    incr.extend_from_slice(&commands(&[&["MULTI"], &["SET", "b", "2"], &["INCR", "a"]]));
    let (manifest, incrs) = write_aof_dir(&dir, None, &[incr]);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Reached EOF before reading EXEC for MULTI"),
        "{out}"
    );
    assert!(out.contains(&format!("ok_up_to={multi_at},")), "{out}");
    let (code, out) = check_aof_flag(&["--fix"], &manifest, "y\n");
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(fs::metadata(&incrs[0]).unwrap().len(), multi_at);
}

// Damage in a file that is not the last is refused, with or without --fix.
#[test]
fn damage_in_non_last_file_is_refused() {
    let dir = TempDir::new("not-last");
    let mut first = checked_incr(&three_batches());
    first.extend_from_slice(b"*2\r\n$3\r\nGET");
    let size = first.len() as u64;
    let (manifest, incrs) = write_aof_dir(&dir, None, &[first, checked_incr(&three_batches())]);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not the last file"), "{out}");
    let (code, out) = check_aof_flag(&["--fix"], &manifest, "y\n");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(
            "Failed to truncate AOF appendonly.aof.1.incr.aof because it is not the last file"
        ),
        "{out}"
    );
    assert!(!out.contains("INCR AOF appendonly.aof.2.incr.aof"), "{out}");
    assert_eq!(fs::metadata(&incrs[0]).unwrap().len(), size);
}

// --truncate-to-timestamp cuts the last file at the first later #TS
// batch, and refuses when that lies in an earlier file.
#[test]
fn truncate_to_timestamp() {
    let dir = TempDir::new("ts");
    let stamped = |ts: u64, argv: &[&str]| {
        let mut batch = format!("#TS:{ts}\r\n").into_bytes();
        encode_command(&mut batch, argv);
        batch
    };
    let batches = vec![
        stamped(100, &["SET", "a", "1"]),
        stamped(200, &["SET", "b", "2"]),
        stamped(300, &["SET", "c", "3"]),
    ];
    let incr = checked_incr(&batches);
    let cut = checked_incr(&batches[..1]).len() as u64;
    let (manifest, incrs) = write_aof_dir(&dir, None, &[incr]);
    let (code, out) = check_aof_flag(&["--truncate-to-timestamp", "150"], &manifest, "");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Successfully truncated AOF appendonly.aof.1.incr.aof to timestamp 150"),
        "{out}"
    );
    assert_eq!(fs::metadata(&incrs[0]).unwrap().len(), cut);
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = check_aof_flag(&["--truncate-to-timestamp", "150"], &manifest, "");
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Truncate nothing in AOF appendonly.aof.1.incr.aof to timestamp 150"),
        "{out}"
    );

    let dir = TempDir::new("ts-base");
    let mut base = commands(&[&["SET", "a", "1"]]);
    base.extend_from_slice(b"#TS:300\r\n");
    base.extend_from_slice(&commands(&[&["SET", "b", "2"]]));
    let (manifest, _) = write_aof_dir(&dir, Some(&base), &[checked_incr(&batches)]);
    let (code, out) = check_aof_flag(&["--truncate-to-timestamp", "150"], &manifest, "");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("to timestamp 150 to offset 27 because it is not the last file."),
        "{out}"
    );
    let (code, out) = run(CHECK_AOF, &["--truncate-to-timestamp", "soon", "x"], "");
    assert_eq!(
        (code, out.trim()),
        (Some(1), "Invalid timestamp, aborting...")
    );
}

// Random bytes, huge lengths and truncated headers never panic: every
// run ends with exit 0 or 1.
#[test]
fn never_panics_on_arbitrary_input() {
    let dir = TempDir::new("fuzz");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut inputs: Vec<Vec<u8>> = vec![
        b"*1\r\n$99999999999999\r\nx".to_vec(),
        b"*9223372036854775807\r\n".to_vec(),
        b"*-1\r\n".to_vec(),
        b"#CK:0:0:00000000\r\n#CK:1:99999999999:ffffffff\r\n".to_vec(),
        b"#CK:0:0:00000000\r\n#CK:1:5:00000000\r\n".to_vec(),
        b"REDIS0010\xfe\x81\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
        b"REDIS0010\x00\x80\xff\xff\xff\xffk".to_vec(),
        b"REDIS".to_vec(),
        vec![b'#'; 5000],
    ];
    for _ in 0..40 {
        let len = (next() % 600) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if next() % 2 == 0 {
            let mut prefixed = checked_incr(&three_batches());
            prefixed.append(&mut bytes);
            bytes = prefixed;
        }
        inputs.push(bytes);
    }
    for (index, bytes) in inputs.iter().enumerate() {
        let path = dir.join(&format!("input-{index}.aof"));
        fs::write(&path, bytes).unwrap();
        for (program, args) in [
            (CHECK_AOF, vec![path.to_str().unwrap()]),
            (CHECK_AOF, vec!["--fix", path.to_str().unwrap()]),
            (CHECK_RDB, vec![path.to_str().unwrap()]),
        ] {
            let (code, out) = run(program, &args, "y\n");
            assert!(
                matches!(code, Some(0 | 1)),
                "input {index}: {code:?}\n{out}"
            );
            assert!(!out.contains("panicked"), "input {index}:\n{out}");
        }
    }
}

// ---------------------------------------------------------------------------
// redoubt-check-rdb

// Core's dump checks with redis-check-rdb's lines; a corrupt copy does not.
#[test]
fn check_rdb_on_redoubt_dump() {
    let dir = TempDir::new("rdb");
    let path = dir.join("dump.rdb");
    let dump = redoubt_dump();
    fs::write(&path, &dump).unwrap();
    let (code, out) = run(CHECK_RDB, &[path.to_str().unwrap()], "");
    assert_eq!(code, Some(0), "{out}");
    let end = dump.len();
    for line in [
        format!("[offset 0] Checking RDB file {}", path.display()),
        "AUX FIELD redis-ver = '7.0.15'".to_string(),
        "] Selecting DB ID 2".to_string(),
        format!("[offset {end}] Checksum OK"),
        format!("[offset {end}] \\o/ RDB looks OK! \\o/"),
        "[info] 3 keys read\n[info] 1 expires\n[info] 0 already expired".to_string(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in\n{out}");
    }

    let mut bad = dump.clone();
    bad[end - 3] ^= 0x20;
    fs::write(&path, &bad).unwrap();
    let (code, out) = run(CHECK_RDB, &[path.to_str().unwrap()], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("--- RDB ERROR DETECTED ---"), "{out}");
    assert!(
        out.contains(&format!("[offset {end}] RDB CRC error")),
        "{out}"
    );
    assert!(
        out.contains("[additional info] While doing: check-sum"),
        "{out}"
    );

    fs::write(&path, &dump[..end - 20]).unwrap();
    let (code, out) = run(CHECK_RDB, &[path.to_str().unwrap()], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Unexpected EOF reading RDB file"), "{out}");
    let (code, _) = run(CHECK_RDB, &[], "");
    assert_eq!(code, Some(1));
}

/// A redis-server in a temp dir, killed on drop.
struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts redis-server on a free port; a port another process took
    /// between our probe and its bind makes it exit, so that is retried.
    fn start(dir: &Path) -> RedisServer {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let child = Command::new(REDIS_SERVER)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut server = RedisServer { child, port };
            let deadline = Instant::now() + Duration::from_millis(REDIS_WAIT_MS_MAX);
            while server.cli(&["PING"]) != "PONG" {
                if server.child.try_wait().unwrap().is_some() {
                    break;
                }
                assert!(Instant::now() < deadline, "redis-server did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            if server.child.try_wait().unwrap().is_none() {
                return server;
            }
        }
        panic!("redis-server exited at start five times");
    }

    fn cli(&self, args: &[&str]) -> String {
        let output = Command::new(REDIS_CLI)
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// A dump written by real Redis 7 passes; a corrupted copy is refused.
#[test]
fn check_rdb_accepts_real_redis_dump() {
    if !has_debian_tools() {
        eprintln!("skipped: Debian's redis tools are not installed");
        return;
    }
    let dir = TempDir::new("redis-dump");
    let server = RedisServer::start(&dir.0);
    assert_eq!(server.cli(&["SET", "a", "1"]), "OK");
    assert_eq!(server.cli(&["SET", "text", &"hello ".repeat(20)]), "OK");
    assert_eq!(server.cli(&["SET", "soon", "x", "EX", "1000"]), "OK");
    assert_eq!(server.cli(&["-n", "3", "SET", "other", "-42"]), "OK");
    assert_eq!(server.cli(&["SAVE"]), "OK");
    drop(server);
    let path = dir.join("dump.rdb");
    let (code, out) = run(CHECK_RDB, &[path.to_str().unwrap()], "");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("Checksum OK"), "{out}");
    assert!(
        out.contains("[info] 4 keys read\n[info] 1 expires"),
        "{out}"
    );
    let (_, theirs) = run(REDIS_CHECK_RDB, &[path.to_str().unwrap()], "");
    let ours_lines: Vec<&str> = out
        .lines()
        .filter(|l| !l.contains("already expired"))
        .collect();
    let their_lines: Vec<&str> = theirs
        .lines()
        .filter(|l| !l.contains("already expired"))
        .collect();
    assert_eq!(ours_lines, their_lines, "ours:\n{out}\ntheirs:\n{theirs}");

    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    let corrupt = dir.join("corrupt.rdb");
    fs::write(&corrupt, &bytes).unwrap();
    let (code, out) = run(CHECK_RDB, &[corrupt.to_str().unwrap()], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("--- RDB ERROR DETECTED ---"), "{out}");
}

// Debian's redis-check-aof accepts our trailered AOF directory, and
// redis-check-rdb accepts core's dump: compatibility the other way.
#[test]
fn debian_tools_accept_our_files() {
    if !has_debian_tools() {
        eprintln!("skipped: Debian's redis tools are not installed");
        return;
    }
    let dir = TempDir::new("debian");
    let (manifest, _) = write_aof_dir(
        &dir,
        Some(&redoubt_dump()),
        &[checked_incr(&three_batches())],
    );
    let (code, out) = check_aof(&[&manifest], "");
    assert_eq!(code, Some(0), "{out}");
    let (code, theirs) = run(REDIS_CHECK_AOF, &[manifest.to_str().unwrap()], "");
    assert_eq!(code, Some(0), "{theirs}");
    assert!(
        theirs.contains("All AOF files and manifest are valid"),
        "{theirs}"
    );
    let strip = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("  ") && !l.contains("already expired"))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        strip(&out),
        strip(&theirs),
        "ours:\n{out}\ntheirs:\n{theirs}"
    );

    let dump = dir.join("dump.rdb");
    fs::write(&dump, redoubt_dump()).unwrap();
    let (code, theirs) = run(REDIS_CHECK_RDB, &[dump.to_str().unwrap()], "");
    assert_eq!(code, Some(0), "{theirs}");
    assert!(theirs.contains("\\o/ RDB looks OK! \\o/"), "{theirs}");
}
