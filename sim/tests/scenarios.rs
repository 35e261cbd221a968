//! Snapshot tests: the report of each scenario at a fixed seed, kept in
//! reports/ so any change of behaviour shows up as a reviewed diff.

use redoubt_sim::{run_seed, Scenario};

/// How often a run took `what`: a recovery path by its report name, or a
/// fault by its kind.
fn taken(report: &redoubt_sim::Report, what: &str) -> u64 {
    let path = report
        .paths
        .named()
        .into_iter()
        .find(|(name, _)| *name == what)
        .map(|(_, count)| count);
    let replication = report.replication_paths.as_ref().and_then(|paths| {
        paths
            .named()
            .into_iter()
            .find(|(name, _)| *name == what)
            .map(|(_, count)| count)
    });
    path.or(replication).unwrap_or_else(|| {
        report
            .faults
            .iter()
            .filter(|tally| tally.kind == what)
            .map(|tally| tally.count)
            .sum()
    })
}

/// The number just before `what` in a verdict's summary line (0 if none).
fn count_before(line: &str, what: &str) -> u64 {
    let before = line.split(what).next().expect("the count");
    before
        .rsplit(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The text of `scenarios/{name}.toml`.
fn scenario_text(name: &str) -> String {
    let path = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).expect("scenario file")
}

/// `scenarios/{name}.toml`, parsed.
fn scenario_file(name: &str) -> Scenario {
    Scenario::parse(&scenario_text(name)).expect("valid scenario")
}

/// Each of `seeds` runs `scenario` to its end and passes.
fn assert_seeds_pass(scenario: &Scenario, seeds: &[u64]) {
    for &seed in seeds {
        let report = run_seed(seed, scenario, None).expect("run");
        assert!(
            report.stopped_by.is_none(),
            "seed {seed}: {}",
            report.render()
        );
        assert!(report.passed(), "seed {seed}: {}", report.render());
    }
}

fn report_of(name: &str, seed: u64) -> redoubt_sim::Report {
    let scenario = scenario_file(name);
    let shown = format!("scenarios/{name}.toml");
    run_seed(seed, &scenario, Some(&shown)).expect("run")
}

/// The scenario's report at `seed` matches `reports/{name}.snap`, passes,
/// and took each of `targets` (the recovery paths or faults the scenario
/// exists for) at least once, so the snapshot shows them at work.
fn snapshot_at(name: &str, seed: u64, targets: &[&str]) {
    let report = report_of(name, seed);
    let text = report.render();
    insta::with_settings!({snapshot_path => "../../reports", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
    assert!(report.passed(), "{text}");
    for target in targets {
        assert!(
            taken(&report, target) > 0,
            "seed {seed} never took {target}:\n{text}"
        );
    }
}

/// The smoke scenario: clients, no faults.
#[test]
fn smoke() {
    snapshot_at("smoke", 42, &[]);
}

/// MULTI/EXEC/WATCH under contention, no faults.
#[test]
fn transactions() {
    snapshot_at("transactions", 42, &[]);
}

/// Power loss under `appendfsync always` tears the tail, which is cut.
#[test]
fn crash_always() {
    snapshot_at(
        "crash-always",
        42,
        &["crash_power_loss", "aof_tails_truncated"],
    );
}

/// Crashes under `everysec` interrupt a background rewrite.
#[test]
fn crash_everysec() {
    snapshot_at("crash-everysec", 19, &["rewrites_interrupted"]);
}

/// A process crash under `appendfsync no` lands between two disk calls.
#[test]
fn crash_no() {
    snapshot_at(
        "crash-no",
        42,
        &["crash_process", "crashes_between_disk_calls"],
    );
}

/// RDB snapshots only, a crash between disk calls.
#[test]
fn crash_rdb() {
    snapshot_at("crash-rdb", 0, &["crashes_between_disk_calls"]);
}

/// Sector-by-sector power loss: garbage and zeroed sectors in the tail,
/// truncated at load.
#[test]
fn torn_tail() {
    snapshot_at(
        "torn-tail",
        42,
        &["sector_garbage", "sector_zeroed", "aof_tails_truncated"],
    );
}

/// fsync reports EIO; the node refuses writes, then recovers by itself. A
/// read fails while loading: the start is refused, and the retry loads.
#[test]
fn fsync_error() {
    snapshot_at(
        "fsync-error",
        18,
        &[
            "disk_fsync_error",
            "fsync_errors_recovered",
            "disk_read_error",
            "starts_refused",
        ],
    );
}

/// The disk fills: short writes and ENOSPC, retried, and writing resumes.
#[test]
fn disk_full() {
    snapshot_at(
        "disk-full",
        42,
        &["disk_full", "disk_short_write", "write_errors_recovered"],
    );
}

/// fsync reports success and keeps nothing: prefix and integrity hold.
#[test]
fn lost_fsync() {
    snapshot_at("lost-fsync", 42, &["disk_fsync_lost"]);
}

/// A flipped bit at rest is detected: the start is refused, never loaded
/// silently.
#[test]
fn bit_flip() {
    snapshot_at("bit-flip", 42, &["disk_bit_flip", "starts_refused"]);
}

/// The wall clock jumps both ways; expiry and save points stay right.
#[test]
fn clock() {
    snapshot_at("clock", 42, &["clock_jump_back", "clock_jump_forward"]);
}

/// The node stops for seconds (SIGSTOP, a long GC) and resumes.
#[test]
fn pause() {
    snapshot_at("pause", 42, &["pause"]);
}

/// SHUTDOWN and SIGTERM while the disk fails: refused, then kept.
#[test]
fn shutdown() {
    snapshot_at(
        "shutdown",
        42,
        &["shutdown_signal", "shutdown_command", "shutdowns_refused"],
    );
}

/// Collections: lists, hashes and sets beside strings, blocking pops
/// among them; this seed has pops served after blocking and pops timing
/// out, and the model predicted every reply.
#[test]
fn collections() {
    snapshot_at("collections", 5, &[]);
    let text = report_of("collections", 5).render();
    let line = text
        .lines()
        .find(|line| line.contains("model:"))
        .expect("a model line");
    assert!(line.contains(" 0 unmodeled"), "{line}");
    let count = |what: &str| count_before(line, what);
    assert!(count(" served after blocking") > 0, "{line}");
    assert!(count(" timed out") > 0, "{line}");
}

/// The applications of "Redis in Action" under crashes and power loss:
/// this seed buys and sells with WATCH conflicts, resumes log processing
/// from its checkpoint, and sweeps jobs left in a worker's processing list
/// after a crash; the invariants held at every restart and an owed
/// enqueue was looked for at each.
#[test]
fn apps() {
    snapshot_at("apps", 9, &["crash_power_loss", "crash_process"]);
    let text = report_of("apps", 9).render();
    let line = text
        .lines()
        .find(|line| line.contains("apps: pass"))
        .expect("an apps line");
    let count = |what: &str| count_before(line, what);
    for what in [
        " purchases",
        " WATCH retries",
        " resumes",
        " swept",
        " owed enqueues found",
    ] {
        assert!(count(what) > 0, "{what}: {line}");
    }
    assert!(count(" datasets checked") >= 3, "{line}");
}

/// The script-based lock and rate limiter: at this seed the node loses
/// power and crashes, a torn AOF tail is cut, a replica is promoted, the
/// clients' EVALSHA finds no script after each restart and falls back to
/// EVAL; the invariants held on every recovered dataset.
#[test]
fn scripts() {
    snapshot_at("scripts", 1, &["crash_power_loss", "aof_tails_truncated"]);
    let text = report_of("scripts", 1).render();
    let line = text
        .lines()
        .find(|line| line.contains("apps: pass"))
        .expect("an apps line");
    let count = |what: &str| count_before(line, what);
    for what in [
        " increments",
        " found taken",
        " released",
        " admitted",
        " limited",
        " NOSCRIPT fallbacks",
    ] {
        assert!(count(what) > 0, "{what}: {line}");
    }
    assert!(count(" datasets checked") >= 3, "{line}");
}

/// Big collections, written over several snapshot steps while they
/// change: this seed interrupts a rewrite with power loss.
#[test]
fn big_values() {
    snapshot_at(
        "big-values",
        27,
        &[
            "values_written_in_steps",
            "rewrites_interrupted",
            "crash_power_loss",
        ],
    );
}

/// The swarm: every fault on, each seed its own mix; this one fills the
/// disk and jumps the clock back.
#[test]
fn swarm() {
    snapshot_at(
        "swarm",
        120,
        &["disk_full", "clock_jump_back", "write_errors_recovered"],
    );
}

/// A master and two replicas: the master crashes between two disk calls
/// and ends with a shutdown; each time the replicas lose their link, sync
/// again in full from the restarted master, and apply its stream. Before
/// the final crash and at the end both are at the master's offset with
/// its dataset.
#[test]
fn replicas() {
    snapshot_at("replicas", 42, &["crash_process", "final_crash"]);
    let text = report_of("replicas", 42).render();
    let line = text
        .lines()
        .find(|line| line.contains("replication: pass"))
        .expect("a replication line");
    for moment in ["before the final crash: ", "at the end: "] {
        let wanted = format!("{moment}2 replicas in sync");
        assert!(line.contains(&wanted), "{line}");
    }
    assert_eq!(line.matches("2/2 datasets equal").count(), 2, "{line}");
    // The stream had run for a while when the replicas were compared
    // before the final crash.
    let offset = line
        .split("before the final crash: 2 replicas in sync at offset ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("an offset");
    assert!(offset > 1000, "{line}");
    // A full sync at the start and after each of the master's two restarts.
    assert!(count_before(line, " full syncs loaded") >= 6, "{line}");
    assert!(count_before(line, " stream bytes applied") > 0, "{line}");
}

/// Partitions between the master and its replicas: this seed cuts one
/// replica off, holds the traffic of another both ways, then one way; the
/// master and a replica time the link out, a replica resyncs partially
/// from the backlog, and one in full after the 16kb backlog overflowed.
/// Both replicas end equal to the master.
#[test]
fn partitions() {
    snapshot_at(
        "partitions",
        283,
        &[
            "partition_cut",
            "partition_hold",
            "partition_one_way",
            "partial_resyncs",
            "full_syncs_backlog_overflow",
            "master_timeouts",
            "replica_timeouts",
        ],
    );
}

/// Across seeds of the partitions scenario, every mode fires and every
/// way back into sync is taken (partial resyncs, full resyncs after the
/// backlog overflowed, timeouts on both sides), and every run passes; a
/// seed replays to the same report.
#[test]
fn partitions_take_every_path_across_seeds() {
    let mut totals = std::collections::BTreeMap::new();
    for seed in 0..40 {
        let report = report_of("partitions", seed);
        assert!(report.passed(), "seed {seed}: {}", report.render());
        for what in [
            "partition_cut",
            "partition_hold",
            "partition_one_way",
            "partial_resyncs",
            "full_syncs_backlog_overflow",
            "master_timeouts",
            "replica_timeouts",
        ] {
            *totals.entry(what).or_insert(0) += taken(&report, what);
        }
    }
    for (what, count) in &totals {
        assert!(*count > 0, "no seed of 0..40 took {what}: {totals:?}");
    }
    let first = report_of("partitions", 283);
    let again = report_of("partitions", 283);
    assert_eq!(first.trace_hash, again.trace_hash);
    assert_eq!(first.render(), again.render());
}

/// Partitions written out as a schedule (what `shrink` writes): each mode
/// fires at its time, on the replica named, and the replicas still end
/// equal to the master; the report lists them and counts the syncs.
#[test]
fn partitions_from_a_schedule() {
    let text = scenario_text("partitions");
    let schedule = r#"
[[faults.schedule]]
fault = "partition"
at_ms = 500
duration_ms = 9000
replica = 1
mode = "cut"

[[faults.schedule]]
fault = "partition"
at_ms = 700
duration_ms = 8000
replica = 2
mode = "one_way"
held = "replica_to_master"

[[faults.schedule]]
fault = "partition"
at_ms = 9800
duration_ms = 400
replica = 2
mode = "hold"
"#;
    let text = text
        .replace(
            "partitions = { count = [1, 4], at_ms = [100, 20000], duration_ms = [200, 70000], modes = [\"cut\", \"hold\", \"one_way\"] }\n",
            "",
        )
        .replace("phase_ms = [10000, 80000]", "phase_ms = [12000, 12000]")
        + schedule;
    let scenario = Scenario::parse(&text).expect("valid scenario");
    assert!(
        scenario.faults.partitions.is_none(),
        "the generator is gone"
    );
    for seed in [1, 2] {
        let report = run_seed(seed, &scenario, None).expect("run");
        let text = report.render();
        assert!(report.passed(), "seed {seed}: {text}");
        for what in ["partition_cut", "partition_one_way", "partition_hold"] {
            assert_eq!(taken(&report, what), 1, "seed {seed}: {what}:\n{text}");
        }
        assert!(
            text.contains(
                "partition_one_way at 700 ms for 8000 ms between node 0 and replica 2, replica to master held"
            ),
            "{text}"
        );
        let paths = report.replication_paths.as_ref().expect("counted");
        // Each replica synced in full at the start, and again after the
        // cut (partially or in full).
        assert_eq!(paths.full_syncs_first, 2, "{text}");
        assert!(
            paths.partial_resyncs + paths.full_syncs_backlog_overflow >= 1,
            "{text}"
        );
    }
}

/// Replicas crash and restart: replica 1 (no AOF, `save 1 1`) from its
/// own dump, continuing partially; replica 2 (AOF) in full.
#[test]
fn replica_crash() {
    snapshot_at(
        "replica-crash",
        1,
        &[
            "replica_crash_process",
            "replica_crash_power_loss",
            "replica_restarts",
            "restarts_resynced_partially",
            "restarts_resynced_fully",
        ],
    );
}

/// Across seeds of the replica-crash scenario, both crash kinds fire,
/// every crashed replica starts again, and restarted replicas take both
/// paths back: a partial resync from their dump's history and a full one.
/// The same seed gives the same trace hash.
#[test]
fn replica_crash_takes_both_restart_paths_across_seeds() {
    let mut sums = std::collections::BTreeMap::new();
    for seed in 0..20 {
        let report = report_of("replica-crash", seed);
        assert!(report.passed(), "seed {seed}: {}", report.render());
        let crashes =
            taken(&report, "replica_crash_process") + taken(&report, "replica_crash_power_loss");
        assert_eq!(
            taken(&report, "replica_restarts"),
            crashes,
            "seed {seed}: every crashed replica started again:\n{}",
            report.render()
        );
        for what in [
            "replica_crash_process",
            "replica_crash_power_loss",
            "restarts_resynced_partially",
            "restarts_resynced_fully",
        ] {
            *sums.entry(what).or_insert(0) += taken(&report, what);
        }
    }
    for (what, sum) in &sums {
        assert!(*sum > 0, "seeds 0..20 never took {what}: {sums:?}");
    }
    let first = report_of("replica-crash", 7);
    let again = report_of("replica-crash", 7);
    assert_eq!(first.trace_hash, again.trace_hash);
}

/// Replica crashes from an explicit schedule (what shrink writes), and
/// only for the scenario that asks: the replicas scenario is untouched.
#[test]
fn replica_crashes_from_a_schedule() {
    let text = scenario_text("replicas");
    let plain = Scenario::parse(&text).expect("valid scenario");
    let report = run_seed(3, &plain, None).expect("run");
    assert!(report.replication_paths.is_none(), "not asked, not counted");
    assert_eq!(taken(&report, "replica_restarts"), 0);
    let schedule = r#"
[[faults.schedule]]
fault = "replica_crash"
at_ms = 1500
replica = 1
kind = "power_loss"
restart_delay_ms = 300

[[faults.schedule]]
fault = "replica_crash"
at_ms = 1700
replica = 2
kind = "process"
restart_delay_ms = 0
"#;
    let scenario = Scenario::parse(&(text + schedule)).expect("valid scenario");
    for seed in [1, 2, 3] {
        let report = run_seed(seed, &scenario, None).expect("run");
        let text = report.render();
        assert!(report.passed(), "seed {seed}: {text}");
        assert_eq!(taken(&report, "replica_crash_power_loss"), 1, "{text}");
        assert_eq!(taken(&report, "replica_crash_process"), 1, "{text}");
        assert_eq!(taken(&report, "replica_restarts"), 2, "{text}");
        assert!(
            text.contains("replica_crash_power_loss of replica 1 at 1500 ms, restart after 300 ms"),
            "{text}"
        );
        // Both replicas run the AOF (the master's configuration): each
        // loads it and syncs in full.
        assert_eq!(taken(&report, "restarts_resynced_fully"), 2, "{text}");
    }
}

/// A replica that will not start again after its crash fails the run,
/// saying why: here its AOF (`appendfsync no`, `aof-load-truncated no`)
/// lost its unsynced tail to power loss, so every start is refused, as
/// Redis refuses; after 30 attempts it stays down, and the replication
/// checker names it.
#[test]
fn a_replica_that_refuses_to_start_fails_the_run() {
    let text = scenario_text("replica-crash");
    let text = text.replace(
        r#"["appendonly yes"]]"#,
        r#"["appendonly yes", "appendfsync no", "aof-load-truncated no"]]"#,
    );
    let scenario = Scenario::parse(&text).expect("valid scenario");
    let report = run_seed(2, &scenario, None).expect("run");
    let text = report.render();
    assert!(!report.passed(), "{text}");
    assert!(taken(&report, "replica_starts_refused") >= 30, "{text}");
    assert!(
        text.contains("replica 2 (127.0.0.1:6381) is down after 120000 ms: refused to start after its crash 30 times, last: Bad file format reading the append only file"),
        "{text}"
    );
}

/// A core bug the replica-crash scenario found (13 of seeds 0..1000 with
/// commands that set TTLs in its mix; these seeds among them), now fixed:
/// a replica started again from its own dump (`appendonly no`, `save 1 1`;
/// the dump names `repl-id`/`repl-offset`) dropped the keys whose expiry
/// passed while it was down, then continued partially from the dump's
/// offset, while its master still had them (not yet expired, or PERSISTed
/// by the stream after that offset): the replica ended at the master's
/// offset with a key missing. Like Redis's replicas, core now keeps
/// expired keys when it loads a dump as a replica; its master's DEL
/// removes them.
#[test]
fn regression_replica_dump_load_keeps_expired_keys() {
    assert_seeds_pass(
        &scenario_file("replica-crash"),
        &[33, 37, 119, 223, 289, 346],
    );
}

/// A core bug the replicas scenario found with messages between nodes
/// split as clients' are (105 of seeds 0..200; these seeds among them),
/// now fixed: a replica advanced its offset by the bytes of the read that
/// completes a command of its master's stream only, so a command split
/// over two reads (e.g. a PING as `*1\r\n` then `$4\r\nPING\r\n`,
/// counted 10 instead of 14) leaves the replica behind the master's
/// offset for good, though its dataset is equal. The bytes the request
/// parser consumed in earlier reads are drained from the query buffer
/// before `apply_master_bytes` took `query[start..query_pos]`; core now
/// keeps them in `master_unapplied` until the command is complete.
#[test]
fn regression_replica_offset_counts_split_commands() {
    let mut scenario = scenario_file("replicas");
    scenario.network.peer_split_percent = None;
    assert_seeds_pass(&scenario, &[0, 2, 30, 42]);
}

/// A core bug the replicas scenario found with disk-based sync, now fixed
/// (`repl-diskless-sync no`): once the BGSAVE for a replica is written,
/// `next_deadline` asks for a tick now (`repl_wants_ticks`: a replica in
/// `send_bulk`) but `on_tick` sends the dump file's chunks only from the
/// cron (`master_cron` calls `send_files` after `on_tick`'s early return
/// while `now < cron_next_ms`), so the node asks to be woken at once
/// forever without doing anything: a busy loop until the next cron in the
/// production server, and no simulated time passing at all in the
/// simulator, which stops at its event bound. Core now sends the chunks
/// on every tick.
#[test]
fn regression_disk_based_sync_sends_the_dump() {
    let mut scenario = scenario_file("replicas");
    scenario.node.config.push("repl-diskless-sync no".into());
    assert_seeds_pass(&scenario, &[3, 42]);
}

/// Simulator bugs found by scenarios/scripts.toml, now fixed: a crash armed
/// between disk calls on a master that a failover then demoted stayed
/// armed on its disk, which stopped answering as a replica with nobody to
/// end its process (seed 106: its fsyncs completed at one instant forever,
/// until events_max; seed 103: a full sync never finished). And one found
/// by scenarios/swarm.toml seed 57: a key a blocking command found expired
/// before it blocked was counted into the next command's unit, of another
/// connection, whose WAITAOF then seemed to confirm an unsynced deletion
/// (a false `durable` failure). Seed 42: a locker whose release the full
/// disk refused gave up, and a clock set back 49 s kept the lock from
/// every locker for the rest of the run.
#[test]
fn regression_scripts_and_swarm_seeds() {
    assert_seeds_pass(&scenario_file("scripts"), &[103, 106]);
    assert_seeds_pass(&scenario_file("swarm"), &[42, 57]);
}

/// A core bug found by scenarios/swarm.toml run with two replicas, now
/// fixed
/// (seeds 36, 61, 90, 119, 165, 186, 195, 230, 234, 269 of 0..300, all
/// with the master's clock set back), shrunk to
/// tests/known-bugs/replica-pexpireat-past.toml: a replica applying its
/// master's `PEXPIREAT key t` (or another expiry) with `t` already past by
/// its own clock deletes the key (`Ctx::already_expired` looks only at
/// `loading`), while the master, whose clock is behind, keeps it; later
/// writes to the key then diverge (`SET XX` does nothing, `APPEND`
/// starts afresh). No clock fault is needed: a stream that reaches the
/// replica later than a short TTL (scenarios/pause.toml with two replicas,
/// seed 68: the stream left 1154 ms after a PEXPIRE computed its time)
/// does the same. Redis's checkAlreadyExpired is false on a replica: it
/// keeps the key until its master's DEL, and so does core now.
#[test]
fn regression_replica_keeps_keys_its_master_keeps() {
    let path = format!(
        "{}/tests/known-bugs/replica-pexpireat-past.toml",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let scenario = Scenario::parse(&text).expect("valid scenario");
    let report = run_seed(90, &scenario, None).expect("run");
    assert!(report.passed(), "{}", report.render());
}

/// Regression, found by crash-no seed 42: loading the AOF ran commands
/// with expiry on, so a key whose time passed between the crash and the
/// restart expired during replay and a later APPEND from the log recreated
/// it without its TTL. Nothing expires while loading now.
#[test]
fn regression_loading_does_not_expire() {
    let report = report_of("crash-no", 42);
    assert!(report.passed(), "{}", report.render());
}

/// Regression, found by crash-everysec seed 13: an RDB-preamble BASE
/// dropped keys already expired at load time, so a PERSIST in the INCR file
/// after it found nothing and the key was lost. An AOF BASE keeps them.
#[test]
fn regression_aof_base_keeps_expired_keys() {
    for seed in [13, 29] {
        let report = report_of("crash-everysec", seed);
        assert!(report.passed(), "seed {seed}: {}", report.render());
    }
}

/// Regression, found by crash-everysec seed 189: after a process crash the
/// loaded INCR file's tail sat only in the page cache while the restarted
/// node's new writes became durable, so power loss later left a hole.
/// Loading now fsyncs what it loaded before anything builds on it.
#[test]
fn regression_loaded_files_are_made_durable() {
    for seed in [189, 447] {
        let report = report_of("crash-everysec", seed);
        assert!(report.passed(), "seed {seed}: {}", report.render());
    }
}

/// Regressions found by the fault swarm, fixed in core, at the seeds that
/// found them: a failed fsync at start forgotten by the next start
/// (fsync-error 162, 549, 952); a flipped bit in an INCR file's marker that
/// switched its checksums off (bit-flip 513); a flipped bit in the manifest
/// that renamed an INCR file into a history file (bit-flip 398); a key
/// judged expired at a wall time before a backward clock jump (swarm 455);
/// CONFIG SET appendonly no closing the file without an fsync (swarm 5); an
/// EXEC refused with MISCONF that left its client queueing forever (swarm
/// 315); and, in the checkers, a full disk judged by a closed AOF's stale
/// write error or without the failed-save retry delay (disk-full 45,
/// shutdown 43), or a write run with the AOF off judged by the policy its
/// reply left under after CONFIG SET appendonly yes (fsync-error 513), or a
/// reply released while the AOF held an fsync error reported a moment
/// before (fsync-error 4312: the whole unrecovered stretch is trouble);
/// and, in core again, a RESP BASE that skipped keys past their time which
/// a wall clock set back then served again (swarm 17157, 39485); a failed
/// fsync of a cut torn tail that the next start forgot (swarm 23761).
/// Each has a unit test in core or in the persistence tests
/// too. The swarm's seeds run `swarm-strings`, the swarm as it was when
/// they were found, so they replay the very runs.
#[test]
fn regression_fault_swarm_seeds() {
    for (name, seed) in [
        ("fsync-error", 162),
        ("fsync-error", 549),
        ("fsync-error", 952),
        ("bit-flip", 513),
        ("bit-flip", 398),
        ("swarm-strings", 455),
        ("swarm-strings", 2458),
        ("swarm-strings", 5),
        ("swarm-strings", 315),
        ("disk-full", 45),
        ("disk-full", 25),
        ("shutdown", 43),
        ("fsync-error", 513),
        ("fsync-error", 4312),
        ("swarm-strings", 17157),
        ("swarm-strings", 39485),
        ("swarm-strings", 23761),
    ] {
        let report = report_of(name, seed);
        assert!(report.passed(), "{name} seed {seed}: {}", report.render());
    }
}

/// Found by the 10000-seed campaign, swarm seed 3145: a background fsync of
/// an INCR file failed while the node was stalled in a slow write, and the
/// node crashed before it heard. No process can learn of that error later
/// (a new process's fsync succeeds and keeps nothing, as on Linux), so
/// power loss then tore a file the manifest no longer lists last, and the
/// start refused. The run says so: a lost fsync in effect, durability and
/// liveness off with the reason, the refusal allowed, and it passes.
#[test]
fn an_fsync_error_no_process_heard_is_a_lost_fsync() {
    let report = report_of("swarm-strings", 3145);
    let text = report.render();
    assert!(report.passed(), "{text}");
    for checker in ["durable", "liveness"] {
        let reason = report
            .checkers_off
            .iter()
            .find(|(name, _)| name == checker)
            .map(|(_, reason)| reason.as_str());
        assert!(
            reason.is_some_and(|r| r.contains("fsync error") && r.contains("no process")),
            "{checker} should be off: {text}"
        );
    }
    assert!(
        text.contains("the node refused to start (allowed)"),
        "{text}"
    );
}

/// Every file in scenarios/ parses.
#[test]
fn all_scenarios_parse() {
    let dir = format!("{}/../scenarios", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("scenarios dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for path in names {
        let text = std::fs::read_to_string(&path).expect("read");
        Scenario::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

/// Failover: at this seed the master is lost twice and a replica promoted
/// each time; the writes WAIT and WAITAOF confirmed survive
/// (`confirmed_by_replicas`), and some acknowledged writes are lost,
/// counted and not judged. The publish-confirm actions heard on replica 1
/// were there, and survived its promotion.
#[test]
fn failover() {
    snapshot_at("failover", 7, &["failover_crash", "final_crash"]);
    let text = report_of("failover", 7).render();
    assert!(
        text.contains("durable: confirmed_by_replicas rule"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|line| line.contains("failover: pass"))
        .expect("a failover line");
    assert!(line.contains("2 promoted"), "{line}");
    assert!(
        count_before(line, " acknowledged writes lost") > 0,
        "{line}"
    );
}

/// Switchover: at this seed the operator stops the master with SIGTERM;
/// it waits for its replica to acknowledge every write before it exits,
/// so the replica promoted holds every write the master acknowledged (the
/// `durable` rule `switchover_in_sync`).
#[test]
fn switchover() {
    snapshot_at("switchover", 3, &["failover_shutdown"]);
    let text = report_of("switchover", 3).render();
    assert!(text.contains("durable: switchover_in_sync rule"), "{text}");
}

/// Split brain: across seeds, masters cut from their replicas keep taking
/// writes, which the promotion loses (counted); with
/// `min-replicas-to-write` they refuse them, and what is lost stays within
/// the bound. Every run passes.
#[test]
fn split_brain() {
    snapshot_at("split-brain", 2, &["failover_partition"]);
    let (mut unbounded_lost, mut bounded) = (0, 0);
    for seed in 0..20 {
        let report = report_of("split-brain", seed);
        let text = report.render();
        assert!(report.passed(), "seed {seed}: {text}");
        let line = text
            .lines()
            .find(|line| line.contains("failover: pass"))
            .expect("a failover line");
        if count_before(line, " bounded by min-replicas-to-write") > 0 {
            bounded += 1;
        } else {
            unbounded_lost += count_before(line, " acknowledged writes lost");
        }
    }
    assert!(bounded > 0, "no seed bounded its split brain");
    assert!(unbounded_lost > 0, "no unbounded split brain lost a write");
}

/// The fallback queue behind the failover proxy: across seeds, producers
/// put jobs back in their buffer (the node unreachable, nothing
/// confirmed) and enqueue them again, and every run passes.
#[test]
fn failover_fallback_queue_buffers_across_seeds() {
    let mut buffered = 0;
    for seed in 0..12 {
        let report = report_of("failover", seed);
        let text = report.render();
        assert!(report.passed(), "seed {seed}: {text}");
        let line = text
            .lines()
            .find(|line| line.contains("apps: pass"))
            .expect("an apps line");
        buffered += count_before(line, " jobs back in a buffer");
    }
    assert!(buffered > 0, "no fallback producer buffered a job");
}

/// A chain (node 2 follows node 1, which follows the master) across a
/// promotion: both replicas end equal to the master, before the final
/// crash and at the end.
#[test]
fn chain() {
    snapshot_at("chain", 3, &["failover_crash", "final_crash"]);
    let text = report_of("chain", 3).render();
    let line = text
        .lines()
        .find(|line| line.contains("replication: pass"))
        .expect("a replication line");
    assert_eq!(line.matches("2/2 datasets equal").count(), 2, "{line}");
    assert!(text.contains("1 promoted"), "{text}");
}

/// A partition during a full sync: at this seed a replica's link breaks
/// while a dataset of thousands of keys is still arriving over the slow
/// link between nodes; it syncs again, and both replicas end equal to the
/// master.
#[test]
fn partition_sync() {
    snapshot_at("partition-sync", 7, &["full_syncs_interrupted"]);
}

/// maxmemory: at this seed the master keeps its dataset under a limit it
/// keeps hitting, evicting hundreds of keys under allkeys-lru while it
/// crashes and restarts; every eviction reached its AOF and its replicas
/// as DEL, so the recovered datasets are prefixes of the write log, and
/// the replicas end equal to it.
#[test]
fn maxmemory() {
    snapshot_at("maxmemory", 13, &["crash_power_loss"]);
    let report = report_of("maxmemory", 13);
    assert!(report.evictions > 100, "{}", report.render());
}

/// Each allkeys policy, with and without lazyfree-lazy-eviction, evicts
/// and passes.
#[test]
fn maxmemory_passes_across_seeds() {
    let scenario = scenario_file("maxmemory");
    assert_seeds_pass(&scenario, &[1, 8, 10, 16]);
    for seed in [1, 8, 10, 16] {
        assert!(run_seed(seed, &scenario, None).expect("run").evictions > 0);
    }
}
