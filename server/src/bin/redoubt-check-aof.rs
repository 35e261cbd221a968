//! `redoubt-check-aof [--fix|--truncate-to-timestamp <ts>] <file.manifest|file.aof|file.rdb>`:
//! checks an append-only file offline with the syntax, output and exit
//! codes of Redis 7.0's `redis-check-aof`, and the server loader's own
//! decisions about what is good.
//!
//! Every file is read through core's `Scanner` and `damage_proven_durable`
//! (see `check/aof_scan.rs`), so the tool and the loader agree on where a
//! file is good, on which damage is a torn tail (cut with `--fix`, as the
//! loader does with `aof-load-truncated yes`) and on which is corruption
//! before the tail (refused: cutting it would drop valid commands after
//! it). Beyond Redis's lines, indented lines say how many batches were
//! verified, what the damage is and where, and whether valid data follows
//! it. Exit status: 0 when every file is valid (or was fixed), 1 otherwise.

#[path = "check/aof_scan.rs"]
mod aof_scan;
#[path = "check/rdb_check.rs"]
mod rdb_check;

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use aof_scan::{later_valid_data, scan, LateTimestamp, Scan};
use rdb_check::say;
use redoubt_core::persist::aof_format::{Damage, Manifest, Stop};

/// What the user asked for.
#[derive(Debug, Clone, Copy, Default)]
struct Options {
    fix: bool,
    /// `--truncate-to-timestamp`; Redis treats 0 as not given.
    to_timestamp: Option<i64>,
}

/// How checking one file ended well (Redis's `AOF_CHECK_*`).
enum Verdict {
    Valid,
    Empty,
    Truncated,
    TimestampTruncated(i64),
}

/// Checking stopped: the reason was printed, the exit status is 1.
struct Failed;

/// One file to check and where it stands in the manifest.
struct Target<'a> {
    /// The name printed (as the manifest spells it, or the argument).
    name: &'a str,
    path: &'a Path,
    last: bool,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let program = args.first().map_or("redoubt-check-aof", String::as_str);
    let Some((options, file)) = parse_args(&args) else {
        say(&format!(
            "Usage: {program} [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>"
        ));
        return ExitCode::FAILURE;
    };
    let Some(options) = options else {
        say("Invalid timestamp, aborting...");
        return ExitCode::FAILURE;
    };
    let path = Path::new(file);
    let outcome = match is_manifest(path) {
        Err(Failed) => Err(Failed),
        Ok(true) => check_multi_part(path, options),
        Ok(false) => check_old_style(file, options),
    };
    let _ = io::stdout().flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::FAILURE,
    }
}

/// Redis's argument rules: `<file>`, `--fix <file>`, or
/// `--truncate-to-timestamp <ts> <file>`. `Some((None, _))` is a bad
/// timestamp.
fn parse_args(args: &[String]) -> Option<(Option<Options>, &str)> {
    match args {
        [_, file] => Some((Some(Options::default()), file)),
        [_, flag, file] if flag == "--fix" => Some((
            Some(Options {
                fix: true,
                to_timestamp: None,
            }),
            file,
        )),
        [_, flag, ts, file] if flag == "--truncate-to-timestamp" => {
            let options = ts.parse::<i64>().ok().map(|ts| Options {
                fix: false,
                to_timestamp: (ts != 0).then_some(ts),
            });
            Some((options, file))
        }
        _ => None,
    }
}

/// Redis's test: any non-comment line starts with `file`.
fn is_manifest(path: &Path) -> Result<bool, Failed> {
    let text = std::fs::read(path).map_err(|error| {
        say(&format!(
            "Cannot open file {}: {}",
            path.display(),
            os_message(&error)
        ));
        Failed
    })?;
    Ok(text
        .split(|&b| b == b'\n')
        .any(|line| line.first() != Some(&b'#') && line.starts_with(b"file")))
}

/// The system's text for an I/O error, without Rust's "(os error N)".
fn os_message(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(cut) => text[..cut].to_string(),
        None => text,
    }
}

/// Redis's test for an RDB preamble: at least 8 bytes starting `REDIS`.
fn is_rdb(path: &Path) -> Result<bool, Failed> {
    let mut file = File::open(path).map_err(|error| {
        say(&format!(
            "Cannot open file {}: {}",
            path.display(),
            os_message(&error)
        ));
        Failed
    })?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut magic = [0u8; 5];
    Ok(size >= 8 && io::Read::read_exact(&mut file, &mut magic).is_ok() && &magic == b"REDIS")
}

fn open(path: &Path) -> Result<File, Failed> {
    File::open(path).map_err(|error| {
        say(&format!(
            "Cannot open file {}: {}, aborting...",
            path.display(),
            os_message(&error)
        ));
        Failed
    })
}

/// A single file given on the command line: it is the last file.
fn check_old_style(file: &str, options: Options) -> Result<(), Failed> {
    say("Start checking Old-Style AOF");
    let path = Path::new(file);
    let target = Target {
        name: file,
        path,
        last: true,
    };
    let preamble = is_rdb(path)?;
    let mut lines = 1;
    let verdict = check_single(&target, preamble, options, &mut lines)?;
    say(&verdict_line("AOF", file, verdict));
    Ok(())
}

/// The BASE and INCR files of a manifest, in order; only the last may be
/// fixed.
fn check_multi_part(manifest_path: &Path, options: Options) -> Result<(), Failed> {
    say("Start checking Multi Part AOF");
    let text = std::fs::read(manifest_path).map_err(|error| {
        say(&format!(
            "Cannot open file {}: {}",
            manifest_path.display(),
            os_message(&error)
        ));
        Failed
    })?;
    let manifest = Manifest::parse(&text).map_err(|error| {
        say("*** FATAL AOF MANIFEST FILE ERROR ***");
        say(&format!(
            "Reading the manifest file {}: {error}",
            manifest_path.display()
        ));
        Failed
    })?;
    let dir = match manifest_path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let files = manifest.load_order();
    let mut lines = 1;
    for (index, file) in files.iter().enumerate() {
        let path = dir.join(&file.name);
        let target = Target {
            name: &file.name,
            path: &path,
            last: index + 1 == files.len(),
        };
        let is_base = manifest.base.as_ref() == Some(*file);
        let (kind, preamble) = if is_base {
            let preamble = is_rdb(&path)?;
            let format = if preamble { "RDB" } else { "RESP" };
            say(&format!("Start to check BASE AOF ({format} format)."));
            ("BASE AOF", preamble)
        } else {
            if index == usize::from(manifest.base.is_some()) {
                say("Start to check INCR files.");
            }
            ("INCR AOF", false)
        };
        let verdict = check_single(&target, preamble, options, &mut lines)?;
        say(&verdict_line(kind, &file.name, verdict));
    }
    say("All AOF files and manifest are valid");
    Ok(())
}

fn verdict_line(kind: &str, name: &str, verdict: Verdict) -> String {
    match verdict {
        Verdict::Valid => format!("{kind} {name} is valid"),
        Verdict::Empty => format!("{kind} {name} is empty"),
        Verdict::Truncated => format!("Successfully truncated AOF {name}"),
        Verdict::TimestampTruncated(ts) => {
            format!("Successfully truncated AOF {name} to timestamp {ts}")
        }
    }
}

/// Checks one file: its RDB preamble if any, then its commands.
fn check_single(
    target: &Target,
    preamble: bool,
    options: Options,
    lines: &mut u64,
) -> Result<Verdict, Failed> {
    let file = open(target.path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size == 0 {
        return Ok(Verdict::Empty);
    }
    let mut start = 0;
    if preamble {
        match rdb_check::check_rdb(target.path, target.name) {
            Some(end) => start = end,
            None => {
                say("RDB preamble of AOF file is not sane, aborting.");
                return Err(Failed);
            }
        }
        say("RDB preamble is OK, proceeding with AOF tail...");
    }
    let scanned = scan(file, start, *lines, options.to_timestamp).map_err(|error| {
        say(&format!(
            "Failed to read from AOF {}: {error}, aborting...",
            target.name
        ));
        Failed
    })?;
    let Ok(scanned) = scanned else {
        say("Invalid timestamp annotation");
        return Err(Failed);
    };
    *lines = scanned.lines;
    if let (Some(late), Some(ts)) = (scanned.late_timestamp, options.to_timestamp) {
        return truncate_to_timestamp(target, &scanned, late, ts);
    }
    report(target, &scanned, options)
}

/// Prints Redis's analysis line and ours, then decides: valid, fixable
/// tail (fixed with `--fix`), or a refusal.
fn report(target: &Target, scan: &Scan, options: Options) -> Result<Verdict, Failed> {
    if let Some(message) = redis_error_line(target.name, scan) {
        say(&message);
    }
    let diff = scan.size.saturating_sub(scan.good_end);
    if diff == 0 {
        if let Some(ts) = options.to_timestamp {
            say(&format!(
                "Truncate nothing in AOF {} to timestamp {ts}",
                target.name
            ));
            return Ok(Verdict::Valid);
        }
    }
    say(&format!(
        "AOF analyzed: filename={}, size={}, ok_up_to={}, ok_up_to_line={}, diff={diff}",
        target.name, scan.size, scan.good_end, scan.lines
    ));
    if scan.checked {
        say(&format!(
            "  checked file: {} batches verified by their #CK trailers, {} commands",
            scan.batches, scan.commands
        ));
    }
    let Some((damage, damage_at)) = &scan.damage else {
        return Ok(Verdict::Valid);
    };
    say(&format!(
        "  damage: {}",
        describe_damage(scan, damage, *damage_at)
    ));
    let refusal = refusal(target, scan, *damage_at)?;
    match (&refusal, options.fix) {
        (Some(reason), true) if !target.last => {
            say(&format!(
                "Failed to truncate AOF {} because it is not the last file",
                target.name
            ));
            say(&format!("  {reason}"));
            Err(Failed)
        }
        (Some(reason), true) => {
            say(&format!(
                "Refusing to truncate AOF {} at offset {}: {reason}",
                target.name, scan.good_end
            ));
            Err(Failed)
        }
        (Some(reason), false) => {
            say(&format!(
                "AOF {} is not valid. --fix cannot repair it: {reason}",
                target.name
            ));
            Err(Failed)
        }
        (None, false) => {
            say(&format!(
                "AOF {} is not valid. Use the --fix option to try fixing it.",
                target.name
            ));
            Err(Failed)
        }
        (None, true) => fix(target, scan),
    }
}

/// Redis's own error line for what stopped its parser, where it has one;
/// ours, in the same `0x<offset>: <text>` form, for what only trailers see.
fn redis_error_line(name: &str, scan: &Scan) -> Option<String> {
    let at = |offset: u64, text: &str| format!("0x{offset:16x}: {text}");
    let (damage, damage_at) = scan.damage.as_ref()?;
    let line = match (&scan.stop, damage) {
        (Some(Stop::BadFormat { offset, reason }), _) => {
            if *offset == *damage_at && reason.starts_with("expected '*'") {
                format!("AOF {name} format error")
            } else {
                at(*offset, &format!("Bad format: {reason}"))
            }
        }
        (Some(Stop::Incomplete { offset }), _) => at(
            *offset,
            "Unexpected end of file: the command starting here is incomplete",
        ),
        (None, Damage::Checksum { .. }) => at(*damage_at, "Batch checksum mismatch"),
        (None, _) if scan.in_multi => at(*damage_at, "Reached EOF before reading EXEC for MULTI"),
        (None, _) => at(
            *damage_at,
            "Reached EOF before the #CK trailer of the last batch",
        ),
    };
    Some(line)
}

/// What the damage is and where, in words.
fn describe_damage(scan: &Scan, damage: &Damage, damage_at: u64) -> String {
    match damage {
        Damage::Checksum { .. } => {
            let seq = scan
                .bad_trailer
                .map_or(String::new(), |t| format!(", trailer #CK seq {}", t.seq));
            format!(
                "checksum mismatch in batch {} (the batch from offset {} to its trailer ending at offset {damage_at}{seq})",
                scan.batches + 1,
                scan.good_end
            )
        }
        Damage::BadFormat(reason) => {
            let offset = match &scan.stop {
                Some(Stop::BadFormat { offset, .. }) => *offset,
                _ => damage_at,
            };
            format!("bad format at offset {offset} ({reason})")
        }
        Damage::Truncated if scan.in_multi => format!(
            "truncated: a MULTI without its EXEC (the file ends at offset {damage_at}; the transaction starts at offset {})",
            scan.good_end
        ),
        Damage::Truncated if scan.stop.is_some() => {
            format!("truncated: the file ends inside the command starting at offset {damage_at}")
        }
        Damage::Truncated => format!(
            "truncated: the last batch has no #CK trailer (the file ends at offset {damage_at})"
        ),
    }
}

/// Why the damage must not be cut, or `None` for a torn tail. Mirrors the
/// loader: only the last file may be cut, and never damage followed by
/// provably valid data. One step stricter than the loader: an incomplete
/// command is also checked for valid data after it, because a corrupted
/// bulk length that runs past the end of the file looks incomplete while
/// verified batches follow it.
fn refusal(target: &Target, scan: &Scan, damage_at: u64) -> Result<Option<String>, Failed> {
    let file = open(target.path)?;
    let damaged_byte = scan
        .damage
        .as_ref()
        .map_or(damage_at, |(damage, _)| damage.last_damaged_byte(damage_at));
    let region = (damage_at, damaged_byte);
    let valid_after =
        later_valid_data(&file, scan.good_end, region, scan.checked).map_err(|error| {
            say(&format!(
                "Failed to read from AOF {}: {error}, aborting...",
                target.name
            ));
            Failed
        })?;
    if valid_after {
        say(&format!(
            "  corruption before the tail: valid data follows the damage at offset {damage_at} in {}",
            target.name
        ));
        return Ok(Some(format!(
            "the damage at offset {damage_at} of {} is followed by valid data, so cutting it would drop every valid command after it. Restore the AOF directory from a replica or a backup instead.",
            target.name
        )));
    }
    say(&format!(
        "  torn tail: nothing valid follows the damage; the file is good up to offset {}",
        scan.good_end
    ));
    if !target.last {
        return Ok(Some(format!(
            "{} is not the last file of the manifest, and only the last file may be truncated. Restore the AOF directory from a replica or a backup.",
            target.name
        )));
    }
    Ok(None)
}

/// Asks as Redis does, then cuts the file at its good end.
fn fix(target: &Target, scan: &Scan) -> Result<Verdict, Failed> {
    let diff = scan.size - scan.good_end;
    say(&format!(
        "This will shrink the AOF {} from {} bytes, with {diff} bytes, to {} bytes",
        target.name, scan.size, scan.good_end
    ));
    print!("Continue? [y/N]: ");
    let _ = io::stdout().flush();
    let mut answer = String::new();
    let read = io::stdin().lock().read_line(&mut answer);
    if !matches!(read, Ok(n) if n > 0) || !answer.starts_with(['y', 'Y']) {
        say("Aborting...");
        return Err(Failed);
    }
    truncate(target, scan.good_end).map_err(|error| {
        say(&format!("Failed to truncate AOF {}: {error}", target.name));
        Failed
    })?;
    Ok(Verdict::Truncated)
}

fn truncate(target: &Target, length: u64) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(target.path)?;
    file.set_len(length)?;
    file.sync_all()
}

/// `--truncate-to-timestamp`: cut the last file at the first annotation
/// later than `ts`, as Redis does.
fn truncate_to_timestamp(
    target: &Target,
    scan: &Scan,
    late: LateTimestamp,
    ts: i64,
) -> Result<Verdict, Failed> {
    let path = target.path.display();
    if late.start == 0 {
        say(&format!(
            "AOF {path} has nothing before timestamp {ts}, aborting..."
        ));
        return Err(Failed);
    }
    if !target.last {
        say(&format!("Failed to truncate AOF {path} to timestamp {ts} to offset {} because it is not the last file.", late.start));
        say("If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof.");
        return Err(Failed);
    }
    if late.good_end != late.start {
        say(&format!(
            "  the timestamp at offset {} follows an unfinished batch or MULTI; cutting at offset {} instead",
            late.start, late.good_end
        ));
    }
    truncate(target, late.good_end).map_err(|_| {
        say(&format!("Failed to truncate AOF {path} to timestamp {ts}"));
        Failed
    })?;
    if scan.checked {
        say(&format!(
            "  kept {} verified batches, {} commands",
            scan.batches, scan.commands
        ));
    }
    Ok(Verdict::TimestampTruncated(ts))
}
