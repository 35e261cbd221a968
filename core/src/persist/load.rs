//! Loading the append-only file at start: the manifest, then the BASE and
//! INCR files in order, each command executed as Redis's fake AOF client
//! executes it.
//!
//! What may be cut, and what must refuse: only the tail of the last file
//! may be truncated (with `aof-load-truncated yes`): an incomplete command,
//! a MULTI without its EXEC, zeros or garbage, or a final batch whose
//! trailer checksum fails. Damage followed by provably valid data (a later
//! batch whose checksum matches, or a later complete command in a file
//! without trailers) is corruption before the tail: the server refuses to
//! start and names file and offset. In files that start with a trailer
//! marker, commands are applied only once their batch's checksum is
//! verified, so flipped bits are never loaded.

use super::aof::{
    aof_dir, ensure_dir, join, persist_manifest, read_file, LoadReport, READ_CHUNK_BYTES,
};
use super::aof_format::{
    damage_proven_durable, next_item, AofFile, Damage, FileKind, Manifest, ManifestRefusal,
    Scanner, Stop,
};
use super::rdb::{DiskSource, RdbEvent, RdbReader};
use crate::client::{Client, ConnInfo};
use crate::cmd;
use crate::config::Config;
use crate::env::{Env, LogLevel, OpenMode};
use crate::planted::{self, PlantedBug};
use crate::server::Server;

/// One file being read.
struct FileReader {
    path: String,
    name: String,
    file: crate::env::FileId,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_offset: u64,
    pos: usize,
    eof: bool,
}

impl FileReader {
    fn offset(&self) -> u64 {
        self.buf_offset + self.pos as u64
    }

    /// Reads another chunk; false at end of file.
    fn fill(&mut self, env: &mut dyn Env) -> Result<bool, String> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.buf_offset += self.pos as u64;
            self.pos = 0;
        }
        let mut chunk = vec![0u8; READ_CHUNK_BYTES];
        let at = self.buf_offset + self.buf.len() as u64;
        match env.read_at(self.file, at, &mut chunk) {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(true)
            }
            Err(error) => Err(format!(
                "Unrecoverable error reading the append only file {}: {error}",
                self.name
            )),
        }
    }
}

/// Loads the AOF directory into `server`. `Ok(None)` if there is no
/// manifest (a fresh start).
pub fn load_aof(
    server: &mut Server,
    env: &mut dyn Env,
) -> Result<Option<(Manifest, LoadReport)>, String> {
    let dir = aof_dir(&server.config);
    let manifest_path = join(
        &dir,
        &super::aof_format::manifest_name(&server.config.appendfilename),
    );
    let manifest = match read_file(env, &manifest_path) {
        Ok(text) => {
            Some(Manifest::parse(&text).map_err(|refusal| log_manifest_refusal(env, refusal))?)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(format!(
                "Unable to open the AOF manifest file {manifest_path}: {error}"
            ))
        }
    };
    let manifest = match manifest {
        manifest if needs_upgrade(env, &server.config, manifest.as_ref()) => {
            upgrade_old_style(env, &server.config)?
        }
        Some(manifest) if manifest.base.is_some() || !manifest.incrs.is_empty() => manifest,
        _ => return Ok(None),
    };
    let started_ms = env.monotonic_ms();
    let mut report = LoadReport::default();
    server.set_loading(true);
    let files: Vec<_> = manifest.load_order().into_iter().cloned().collect();
    let mut fake = Client::new(0, ConnInfo::default(), started_ms, true);
    let result = (|| -> Result<(), String> {
        for (index, file) in files.iter().enumerate() {
            let last = index + 1 == files.len();
            let kind = if manifest.base.as_ref() == Some(file) {
                "base"
            } else {
                "incr"
            };
            let file_started = env.monotonic_ms();
            let bytes = load_file(
                server,
                env,
                &mut fake,
                &join(&dir, &file.name),
                &file.name,
                last,
                &mut report,
            )?;
            if kind == "base" {
                report.base_bytes = bytes;
            }
            report.bytes += bytes;
            let seconds = (env.monotonic_ms() - file_started) as f64 / 1000.0;
            env.log(
                LogLevel::Notice,
                &format!(
                    "DB loaded from {kind} file {}: {seconds:.3} seconds",
                    file.name
                ),
            );
        }
        Ok(())
    })();
    server.set_loading(false);
    result?;
    report.untrusted = match fsync_error_marked(env, &server.config) {
        true => Some("an fsync of the AOF failed before the last exit".to_string()),
        false => make_durable(env, &dir, &files).err(),
    };
    if report.untrusted.is_some() {
        // Should the node crash before its fresh BASE is in place, the
        // next start must not trust a later fsync of the same pages.
        mark_untrusted(env, &server.config);
    }
    let seconds = (env.monotonic_ms() - started_ms) as f64 / 1000.0;
    env.log(
        LogLevel::Notice,
        &format!("DB loaded from append only file: {seconds:.3} seconds"),
    );
    Ok(Some((manifest, report)))
}

/// Whether a file exists (can be opened for reading).
fn file_exists(env: &mut dyn Env, path: &str) -> bool {
    match env.open(path, OpenMode::Read) {
        Ok(file) => {
            let _ = env.close_file(file);
            true
        }
        Err(_) => false,
    }
}

/// Whether the start must first move a pre-7 AOF (`appendfilename` in
/// `dir`) into the AOF directory, as Redis 7's loadAppendOnlyFiles does:
/// the file exists and either no manifest lists anything (none was
/// written yet), or the manifest is the one an interrupted upgrade left
/// (only a BASE by that very name, not yet moved into the directory).
fn needs_upgrade(env: &mut dyn Env, config: &Config, manifest: Option<&Manifest>) -> bool {
    if !file_exists(env, &join(&config.dir, &config.appendfilename)) {
        return false;
    }
    let Some(manifest) = manifest else {
        return true;
    };
    match &manifest.base {
        None => manifest.incrs.is_empty(),
        Some(base) => {
            manifest.incrs.is_empty()
                && base.name == config.appendfilename
                && !file_exists(env, &join(&aof_dir(config), &base.name))
        }
    }
}

/// Redis 7's upgrade of a pre-7 AOF: creates the AOF directory, installs
/// a manifest naming the old file as the BASE (sequence 1), then moves
/// the file into the directory. Each step is safe to repeat: a crash
/// between them leaves a layout the next start upgrades again.
fn upgrade_old_style(env: &mut dyn Env, config: &Config) -> Result<Manifest, String> {
    let dir = aof_dir(config);
    ensure_dir(env, &dir)?;
    let manifest = Manifest {
        base: Some(AofFile {
            name: config.appendfilename.clone(),
            seq: 1,
            kind: FileKind::Base,
        }),
        incrs: Vec::new(),
        history: Vec::new(),
    };
    persist_manifest(env, config, &manifest).map_err(String::from)?;
    let old = join(&config.dir, &config.appendfilename);
    env.rename(&old, &join(&dir, &config.appendfilename))
        .map_err(|error| {
            format!(
                "Error trying to move the old AOF file {} into dir {}: {}",
                config.appendfilename,
                config.appenddirname,
                strerror(&error)
            )
        })?;
    let parent = if config.dir.is_empty() {
        "."
    } else {
        &config.dir
    };
    env.fsync_dir(&dir)
        .and_then(|()| env.fsync_dir(parent))
        .map_err(|error| format!("Can't fsync the directories of the upgraded AOF: {error}"))?;
    env.log(
        LogLevel::Notice,
        &format!(
            "Successfully migrated an old-style AOF file ({}) into the AOF directory ({}).",
            config.appendfilename, config.appenddirname
        ),
    );
    Ok(manifest)
}

/// Logs a refused manifest as Redis does (a banner, the line and its
/// text), and returns the reason, which the caller logs last.
fn log_manifest_refusal(env: &mut dyn Env, refusal: ManifestRefusal) -> String {
    env.log(LogLevel::Warning, "*** FATAL AOF MANIFEST FILE ERROR ***");
    if let Some((number, text)) = &refusal.line {
        let text = String::from_utf8_lossy(text);
        env.log(
            LogLevel::Warning,
            &format!("Reading the manifest file, at line {number}"),
        );
        env.log(LogLevel::Warning, &format!(">>> '{text}'"));
    }
    refusal.reason
}

/// An I/O error's text without Rust's ` (os error N)` suffix: what
/// strerror says, as Redis's log lines quote it.
pub fn strerror(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.split_once(" (os error ") {
        Some((message, _)) => message.to_string(),
        None => text,
    }
}

/// Leaves the fsync-error marker, so that the next start does not trust
/// the loaded files (best effort: the start refuses or rewrites anyway).
fn mark_untrusted(env: &mut dyn Env, config: &crate::config::Config) {
    let marker = super::aof::fsync_error_marker(config);
    let _ = super::aof::leave_fsync_error_marker(env, &marker);
}

/// Whether the life before left the marker of an unrecovered fsync error.
fn fsync_error_marked(env: &mut dyn Env, config: &crate::config::Config) -> bool {
    let path = super::aof::fsync_error_marker(config);
    match env.open(&path, OpenMode::Read) {
        Ok(file) => {
            let _ = env.close_file(file);
            true
        }
        Err(_) => false,
    }
}

/// Fsyncs every loaded file and the directory before the node builds on
/// them: after a process crash their tails may sit only in the page cache,
/// and new writes must never become durable while older ones they follow
/// could still be lost.
fn make_durable(
    env: &mut dyn Env,
    dir: &str,
    files: &[super::aof_format::AofFile],
) -> Result<(), String> {
    for file in files {
        let path = join(dir, &file.name);
        let handle = env
            .open(&path, OpenMode::Read)
            .map_err(|e| format!("Can't open {} to fsync it: {e}", file.name))?;
        let synced = env.fsync(handle);
        let _ = env.close_file(handle);
        synced.map_err(|e| {
            format!(
                "Can't fsync the AOF file {} after loading it: {e}",
                file.name
            )
        })?;
    }
    env.fsync_dir(dir)
        .map_err(|e| format!("Can't fsync the AOF directory {dir}: {e}"))
}

/// Loads one file; returns its size after any truncation.
fn load_file(
    server: &mut Server,
    env: &mut dyn Env,
    fake: &mut Client,
    path: &str,
    name: &str,
    last: bool,
    report: &mut LoadReport,
) -> Result<u64, String> {
    let file = env
        .open(path, OpenMode::Read)
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => format!(
                "The append log file {name} doesn't exist: {}",
                strerror(&error)
            ),
            _ => format!(
                "Fatal error: can't open the append log file {name} for reading: {}",
                strerror(&error)
            ),
        })?;
    // Like Redis, the content decides: an RDB preamble, then RESP.
    let mut magic = [0u8; 5];
    let starts_with_rdb = matches!(env.read_at(file, 0, &mut magic), Ok(5)) && &magic == b"REDIS";
    let resp_start = if starts_with_rdb {
        match load_rdb(server, env, path, name, true) {
            Ok(rdb) => rdb.bytes,
            Err(error) => {
                let _ = env.close_file(file);
                return Err(error);
            }
        }
    } else {
        0
    };
    let mut reader = FileReader {
        path: path.to_string(),
        name: name.to_string(),
        file,
        buf: Vec::new(),
        buf_offset: resp_start,
        pos: 0,
        eof: false,
    };
    let outcome = read_items(server, env, fake, &mut reader, report);
    let _ = env.close_file(file);
    let (damage, good_end, checked) = outcome?;
    match damage {
        None => Ok(reader.offset()),
        Some(damage) => {
            let tail = Tail {
                damage,
                good_end,
                last,
                checked,
            };
            handle_damage(server, env, &reader, tail, report).map(|()| good_end)
        }
    }
}

/// Reads and applies items until the end or the first damage. Returns the
/// damage, if any, and the offset up to which the file is good.
fn read_items(
    server: &mut Server,
    env: &mut dyn Env,
    fake: &mut Client,
    reader: &mut FileReader,
    report: &mut LoadReport,
) -> Result<(Option<Damage>, u64, bool), String> {
    let bulk_max = server.config.proto_max_bulk_len as u64;
    let mut scanner = Scanner::default();
    loop {
        let start = reader.offset();
        match next_item(&reader.buf[reader.pos..], start, bulk_max) {
            Err(Stop::Incomplete { .. }) if !reader.eof => {
                reader.fill(env)?;
            }
            Err(Stop::Incomplete { .. }) if reader.pos == reader.buf.len() => {
                apply_torn_batch(server, env, fake, &mut scanner, reader, report)?;
                let checked = scanner.is_checked();
                let (damage, good_end) = scanner.finish(None, reader.offset());
                return Ok((damage, good_end, checked));
            }
            Err(stop) => {
                apply_torn_batch(server, env, fake, &mut scanner, reader, report)?;
                let checked = scanner.is_checked();
                let (damage, good_end) = scanner.finish(Some(stop), reader.offset());
                return Ok((damage, good_end, checked));
            }
            Ok((item, used)) => {
                let bytes = &reader.buf[reader.pos..reader.pos + used];
                let released = match scanner.accept(item, bytes, start) {
                    Ok(released) => released,
                    Err(damage) => {
                        reader.pos += used;
                        return Ok((Some(damage), scanner.good_end(), scanner.is_checked()));
                    }
                };
                reader.pos += used;
                for (argv, command_start) in released {
                    apply(server, env, fake, argv, command_start, reader, report)?;
                }
            }
        }
    }
}

/// The planted bug [`PlantedBug::TornMultiApplied`]: the complete commands
/// of a torn final batch are executed unverified, and a transaction they
/// open is committed. Does nothing unless planted.
fn apply_torn_batch(
    server: &mut Server,
    env: &mut dyn Env,
    fake: &mut Client,
    scanner: &mut Scanner,
    reader: &FileReader,
    report: &mut LoadReport,
) -> Result<(), String> {
    if !planted::active(&server.config, PlantedBug::TornMultiApplied) {
        return Ok(());
    }
    for (argv, start) in scanner.release_unverified() {
        apply(server, env, fake, argv, start, reader, report)?;
    }
    if fake.multi.is_some() {
        cmd::process(server, fake, env, vec![b"EXEC".to_vec()]);
    }
    Ok(())
}

/// Executes one loaded command on the fake client.
fn apply(
    server: &mut Server,
    env: &mut dyn Env,
    fake: &mut Client,
    argv: Vec<Vec<u8>>,
    start: u64,
    reader: &FileReader,
    report: &mut LoadReport,
) -> Result<(), String> {
    if cmd::commands(&server.config).get(&argv[0]).is_none() {
        return Err(format!(
            "Unknown command '{}' reading the append only file {}",
            String::from_utf8_lossy(&argv[0]),
            reader.name
        ));
    }
    fake.out.buf.clear();
    cmd::process(server, fake, env, argv);
    report.commands += 1;
    if fake.out.buf.first() == Some(&b'-') && fake.multi.is_none() {
        let error = String::from_utf8_lossy(&fake.out.buf[1..])
            .trim_end()
            .to_string();
        return Err(format!(
            "Error executing a command from the append only file {} at offset {start}: {error}",
            reader.name
        ));
    }
    Ok(())
}

/// Where a file's good part ends and what damage follows it.
struct Tail {
    damage: Damage,
    good_end: u64,
    /// The file is the manifest's last.
    last: bool,
    /// The file carries batch trailers (only they can prove corruption).
    checked: bool,
}

/// Decides between truncating a torn tail and refusing to start.
fn handle_damage(
    server: &mut Server,
    env: &mut dyn Env,
    reader: &FileReader,
    tail: Tail,
    report: &mut LoadReport,
) -> Result<(), String> {
    let Tail {
        damage,
        good_end,
        last,
        checked,
    } = tail;
    let damage_at = reader.offset();
    let described = match &damage {
        Damage::Truncated => format!("Unexpected end of file reading the append only file {} at offset {damage_at}", reader.name),
        Damage::BadFormat(reason) => format!("Bad file format reading the append only file {} at offset {damage_at} ({reason})", reader.name),
        Damage::Checksum { .. } => format!("Checksum mismatch in the append only file {} in the batch starting at offset {good_end}", reader.name),
    };
    if !last {
        return Err(format!("{described}: only the last file may have a damaged tail. Make a backup of your AOF directory, then use redoubt-check-aof."));
    }
    // Without trailers nothing tells torn bytes from corrupt ones: a
    // format error in such a file (one Redis wrote, or the stretch of it
    // before redoubt's marker, fsynced before anything was appended) is
    // fatal, as it is to Redis; only a short read may be cut.
    if !checked && matches!(damage, Damage::BadFormat(_)) {
        return Err(format!("Bad file format reading the append only file {}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>", reader.name));
    }
    // Even a command that seems merely cut short may be a corrupt length
    // running over later, valid batches: look before cutting anything. A
    // later batch proves corruption only if it says the damaged bytes were
    // already durable when it was written.
    let bulk_max = server.config.proto_max_bulk_len as u64;
    let damaged_byte = damage.last_damaged_byte(damage_at);
    let region = (good_end, damage_at, damaged_byte);
    if later_valid_data(env, reader, region, bulk_max, checked)? {
        return Err(format!("{described}, and valid data follows it: the file is corrupt before its tail. Refusing to start rather than lose or serve damaged data; make a backup of your AOF directory, then use redoubt-check-aof."));
    }
    if !server.config.aof_load_truncated {
        return Err(format!("{described}. You can: 1) Make a backup of your AOF file, then use redoubt-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server."));
    }
    let size = file_size(env, &reader.path)?;
    if damage == Damage::Truncated {
        env.log(
            LogLevel::Warning,
            &format!(
                "!!! Warning: short read while loading the AOF file {}!!!",
                reader.name
            ),
        );
    } else {
        env.log(LogLevel::Warning, &format!("!!! Warning: {described}: the damage runs to the end of the file (a torn write) !!!"));
    }
    env.log(
        LogLevel::Warning,
        &format!(
            "!!! Truncating the AOF incr file {} at offset {good_end} !!!",
            reader.name
        ),
    );
    let file = env.open(&reader.path, OpenMode::Append).map_err(|e| {
        format!(
            "Error opening the AOF file {} to truncate it: {e}",
            reader.name
        )
    })?;
    let truncated = if planted::active(&server.config, PlantedBug::TornTailKept) {
        Ok(())
    } else {
        match env.truncate(file, good_end) {
            Ok(()) => match env.fsync(file) {
                Ok(()) => Ok(()),
                Err(error) => {
                    // The pages this fsync covered may never become durable,
                    // and a later start's fsync of them can succeed without
                    // saving them: that start must not trust the file.
                    mark_untrusted(env, &server.config);
                    Err(error)
                }
            },
            Err(error) => Err(error),
        }
    };
    let _ = env.close_file(file);
    truncated.map_err(|e| format!("Error truncating the AOF file {}: {e}", reader.name))?;
    env.log(
        LogLevel::Warning,
        "AOF loaded anyway because aof-load-truncated is enabled",
    );
    report.truncated = Some((reader.name.clone(), good_end, size - good_end));
    Ok(())
}

fn file_size(env: &mut dyn Env, path: &str) -> Result<u64, String> {
    let file = env.open(path, OpenMode::Read).map_err(|e| e.to_string())?;
    let size = env.size(file).map_err(|e| e.to_string());
    let _ = env.close_file(file);
    size
}

/// Reads the file from `good_end` to its end and asks whether valid data
/// after `damage_at` proves the damage was durable (see
/// `damage_proven_durable`).
fn later_valid_data(
    env: &mut dyn Env,
    reader: &FileReader,
    (good_end, damage_at, damaged_byte): (u64, u64, u64),
    bulk_max: u64,
    trailers_only: bool,
) -> Result<bool, String> {
    let file = env
        .open(&reader.path, OpenMode::Read)
        .map_err(|e| e.to_string())?;
    let mut region = Vec::new();
    let mut chunk = vec![0u8; READ_CHUNK_BYTES];
    let result = loop {
        match env.read_at(file, good_end + region.len() as u64, &mut chunk) {
            Ok(0) => break Ok(()),
            Ok(n) => region.extend_from_slice(&chunk[..n]),
            Err(e) => break Err(e.to_string()),
        }
    };
    let _ = env.close_file(file);
    result?;
    let from = (damage_at.saturating_sub(good_end) as usize).min(region.len());
    Ok(damage_proven_durable(
        &region,
        from,
        damaged_byte,
        bulk_max,
        trailers_only,
    ))
}

/// Largest RESIZEDB hint honoured; bigger dumps grow the table as they load.
const RESIZE_HINT_MAX: u64 = 1 << 26;
/// Empty keys a load names in the log; the rest are only counted.
const EMPTY_KEYS_NAMED: u64 = 10;

/// What loading an RDB dump found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RdbLoadReport {
    pub keys_loaded: u64,
    pub keys_expired: u64,
    /// Bytes the dump took in its file.
    pub bytes: u64,
    /// Collections with no element, skipped.
    pub empty_keys_skipped: u64,
    /// The replication history the dump names, if it names one.
    pub repl: Option<ReplInfo>,
}

/// A dump's `repl-id`, `repl-offset` and `repl-stream-db` AUX fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplInfo {
    pub replid: String,
    pub offset: u64,
    pub stream_db: usize,
}

/// Loads an RDB dump (a `dbfilename` dump, an AOF BASE with the RDB
/// preamble, or a dataset received from a master) into the keyspace. A
/// master's dump drops keys already expired; with `keep_expired` they
/// stay: in an AOF BASE, because the INCR files after it may still change
/// them (PERSIST, a new expiry) and replay must rebuild exactly what was
/// there; on a replica, because its master's DELs decide. Any error is a
/// refusal: a dump is never partly loaded.
pub fn load_rdb(
    server: &mut Server,
    env: &mut dyn Env,
    path: &str,
    name: &str,
    keep_expired: bool,
) -> Result<RdbLoadReport, String> {
    let file = env
        .open(path, OpenMode::Read)
        .map_err(|e| format!("Fatal error loading the DB {name}: {e}"))?;
    let verify = server.config.rdbchecksum;
    let encodings = server.config.encodings;
    let now_ms = env.wall_ms();
    let databases = server.keyspace.dbs.len();
    let result = (|| -> Result<RdbLoadReport, String> {
        let describe = |error: super::rdb::RdbError| {
            format!("Error loading the RDB file {name}: {error}. Refusing to start with a partial dataset; check it with redoubt-check-rdb.")
        };
        let mut reader = RdbReader::new(DiskSource::new(&mut *env, file, 0)).map_err(describe)?;
        reader.set_verify_checksum(verify);
        reader.set_encodings(encodings);
        let mut report = RdbLoadReport::default();
        let (mut repl_id, mut repl_offset, mut repl_db) = (None, None, None);
        // The empty keys skipped, named in the log once the file is read.
        let mut skipped = Vec::new();
        let mut libraries = Vec::new();
        let mut db = 0;
        while let Some(event) = reader.next_event().map_err(describe)? {
            match event {
                RdbEvent::SelectDb { index } if index as usize >= databases => {
                    return Err(format!("FATAL: Data file {name} was created with a Redis server configured to handle more than {databases} databases. Exiting"));
                }
                RdbEvent::SelectDb { index } => db = index as usize,
                RdbEvent::Entry(entry)
                    if !keep_expired && entry.expire_at_ms.is_some_and(|at| at < now_ms) =>
                {
                    report.keys_expired += 1
                }
                RdbEvent::Entry(entry) => {
                    if server.load_merges {
                        server.keyspace.dbs[db].remove(&entry.key, i64::MIN);
                    }
                    let inserted = server.keyspace.dbs[db].insert_loaded(
                        entry.key,
                        entry.value,
                        entry.expire_at_ms,
                    );
                    if let Err(key) = inserted {
                        let key = String::from_utf8_lossy(&key);
                        return Err(format!("Error loading the RDB file {name}: duplicate key '{key}' in database {db}"));
                    }
                    report.keys_loaded += 1;
                }
                // Compiled once the file is read (compiling may need the
                // environment the reader holds).
                RdbEvent::Function { code } => libraries.push(code),
                RdbEvent::End { .. } => report.bytes = reader.offset(),
                RdbEvent::ResizeDb { keys, expires } => {
                    // A hint, capped so a corrupt one cannot allocate much.
                    let cap = |n: u64| n.min(RESIZE_HINT_MAX) as usize;
                    server.keyspace.dbs[db].reserve(cap(keys), cap(expires));
                }
                RdbEvent::EmptyKey { key } => {
                    // Redis skips these too, naming the first ten.
                    if report.empty_keys_skipped < EMPTY_KEYS_NAMED {
                        skipped.push(String::from_utf8_lossy(&key).into_owned());
                    }
                    report.empty_keys_skipped += 1;
                }
                RdbEvent::Aux { key, value } => {
                    let text = String::from_utf8_lossy(&value).into_owned();
                    match key.as_slice() {
                        b"repl-id" if text.len() == 40 => repl_id = Some(text),
                        b"repl-offset" => repl_offset = text.parse::<u64>().ok(),
                        b"repl-stream-db" => {
                            repl_db = text.parse::<usize>().ok().filter(|&db| db < databases)
                        }
                        _ => {}
                    }
                }
            }
        }
        drop(reader);
        for code in libraries {
            let functions = &mut server.keyspace.functions;
            server
                .scripts
                .load_library(env, functions, &code, server.load_merges)
                .map_err(|error| {
                    format!("Error loading the RDB file {name}: a function library did not load: {error}")
                })?;
        }
        if let (Some(replid), Some(offset), Some(stream_db)) = (repl_id, repl_offset, repl_db) {
            report.repl = Some(ReplInfo {
                replid,
                offset,
                stream_db,
            });
        }
        for key in skipped {
            env.log(
                LogLevel::Notice,
                &format!("rdbLoadObject skipping empty key: {key}"),
            );
        }
        Ok(report)
    })();
    let _ = env.close_file(file);
    result
}

/// Loads `dbfilename` at start when the AOF is off. `Ok(None)` if there is
/// no dump.
pub fn load_dump(server: &mut Server, env: &mut dyn Env) -> Result<Option<RdbLoadReport>, String> {
    let name = server.config.dbfilename.clone();
    let path = join(&server.config.dir, &name);
    match env.open(&path, OpenMode::Read) {
        Ok(file) => {
            let _ = env.close_file(file);
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(format!(
                "Fatal error loading the DB {name}: {error}. Exiting."
            ))
        }
    }
    let started = env.monotonic_ms();
    server.set_loading(true);
    // A replica keeps keys already past their time, as Redis's do: they
    // go when its master's DEL arrives, which a partial resync may bring.
    let keep_expired = server.config.repl.replicaof.is_some();
    let report = load_rdb(server, env, &path, &name, keep_expired);
    server.set_loading(false);
    let report = report?;
    server.rdb_last_load = (report.keys_loaded, report.keys_expired);
    let seconds = (env.monotonic_ms() - started) as f64 / 1000.0;
    env.log(
        LogLevel::Notice,
        &format!("DB loaded from disk: {seconds:.3} seconds"),
    );
    env.log(
        LogLevel::Notice,
        &format!(
            "Done loading RDB, keys loaded: {}, keys expired: {}.",
            report.keys_loaded, report.keys_expired
        ),
    );
    Ok(Some(report))
}
