//! The simulator's self-test: a durability bug planted in core on purpose
//! must be caught by the scenario written for its fault, within a bounded
//! number of seeds, by the checker that guards that promise. The failing
//! seed must pass with the bug removed (the bug, not the scenario, fails
//! it), and must shrink to a small scenario file that still fails when
//! parsed back and replayed.
//!
//! Runs only with `--features planted-bugs`; `scripts/test.sh` runs it.

#![cfg(feature = "planted-bugs")]

use redoubt_sim::run::shrink::{failing_checkers, shrink};
use redoubt_sim::{run_seed, Report, Scenario};

/// Seeds a scenario may need to catch its bug. Each case below records
/// the seed that catches it today, so a harness change that makes a bug
/// harder to find shows up as a failing bound or a moved seed.
const SEEDS_MAX: u64 = 200;

/// Seeds over which the test prints how often a bug is caught.
const CATCH_RATE_SEEDS: u64 = 20;

struct Case {
    bug: &'static str,
    scenario: &'static str,
    /// The checkers that may catch it: the promise the bug breaks, or the
    /// start the damage it leaves makes refuse.
    checkers: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        bug: "reply-before-fsync",
        scenario: "crash-always",
        checkers: &["durable"],
    },
    Case {
        bug: "torn-tail-kept",
        scenario: "torn-tail",
        // The kept garbage sits before the next writes; the batch after it
        // vouches it was durable, so the next start refuses.
        checkers: &["recovery"],
    },
    Case {
        bug: "short-write-drops-buffer",
        scenario: "disk-full",
        // The dropped bytes are lost, or the gap they leave is detected
        // at the next start (a later batch vouches for them).
        checkers: &["durable", "recovery"],
    },
    Case {
        bug: "rename-without-dir-fsync",
        scenario: "crash-always",
        // Power loss forgets the new manifest; the old one names files
        // without the acknowledged writes.
        checkers: &["durable"],
    },
    Case {
        bug: "fsync-error-ignored",
        scenario: "fsync-error",
        // Power loss drops the pages the failed fsync covered; a later
        // batch's trailer vouches they were durable, so the start refuses
        // (detected, never loaded silently) and the node stays down.
        checkers: &["recovery"],
    },
    Case {
        bug: "resumed-value-skips-element",
        scenario: "big-values",
        // A BASE or dump missing an element of a big value loads a dataset
        // no prefix of the writes gives; an RDB one whose declared length
        // runs past its elements is refused at the start.
        checkers: &["prefix", "recovery"],
    },
    Case {
        bug: "rewrite-scores-rounded",
        scenario: "big-values",
        // A score that lost digits in a RESP BASE comes back as another
        // double: no prefix of the writes holds it.
        checkers: &["prefix"],
    },
    Case {
        bug: "replica-offset-skips-split",
        scenario: "replicas",
        // The replicas never reach the master's offset.
        checkers: &["replication"],
    },
    Case {
        bug: "replica-expires-by-its-clock",
        scenario: "swarm",
        // A replica whose clock is ahead (or whose stream is late) drops a
        // key its master keeps: their datasets differ, and a reader on the
        // replica may see it missing where no state of the master's was.
        checkers: &["replication", "replica_reads"],
    },
    Case {
        bug: "wait-counts-online-replicas",
        scenario: "failover",
        // WAIT confirms writes a held link kept from the replicas; the
        // replica promoted lacks them.
        checkers: &["durable"],
    },
    Case {
        bug: "publish-ahead-of-its-transaction",
        scenario: "failover",
        // The listener on a replica hears of an action before the replica
        // applied it.
        checkers: &["publish_confirm"],
    },
    Case {
        bug: "replica-runs-transactions-unqueued",
        scenario: "replicas",
        // The reader on the replica sees half a transaction: no state of
        // the master's held what it read.
        checkers: &["replica_reads"],
    },
    Case {
        bug: "shutdown-ignores-lagging-replicas",
        scenario: "switchover",
        // The master exits before its replicas have its last writes; the
        // replica promoted lacks writes it acknowledged.
        checkers: &["durable"],
    },
    Case {
        bug: "script-effects-not-wrapped",
        scenario: "scripts",
        // A replica applies a script's commands as they arrive: the
        // reader there sees the lock's counter without its record, or the
        // lock without its fence; a promotion at that moment keeps half a
        // script (not a prefix, and the lock's invariants broken). The
        // AOF alone cannot show it: a torn tail is cut at a batch, which
        // holds whole scripts.
        checkers: &["replica_reads", "prefix", "apps"],
    },
    Case {
        bug: "held-request-runs-twice",
        scenario: "swarm",
        // A request held by CLIENT PAUSE runs twice: the node's trace
        // shows a command the client sent once executed twice, and an
        // INCR, APPEND or push leaves a value that no order of the
        // clients' writes explains.
        checkers: &["reply_integrity", "model", "linearizable", "prefix"],
    },
    Case {
        bug: "torn-multi-applied",
        scenario: "apps",
        // Half a transaction is not a prefix of the write log; when it is
        // an application's, its invariant breaks too (see below).
        checkers: &["prefix", "apps"],
    },
];

fn scenario(name: &str) -> Scenario {
    let path = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("scenario file");
    Scenario::parse(&text).expect("valid scenario")
}

fn planted(name: &str, bug: &str) -> Scenario {
    let mut scenario = scenario(name);
    scenario.node.config.push(format!("planted-bug {bug}"));
    scenario
}

fn run(seed: u64, scenario: &Scenario) -> Report {
    run_seed(seed, scenario, None).expect("the run starts")
}

/// The first seed below `SEEDS_MAX` whose run fails, with its report.
fn first_failure(scenario: &Scenario) -> Option<(u64, Report)> {
    (0..SEEDS_MAX)
        .map(|seed| (seed, run(seed, scenario)))
        .find(|(_, report)| !report.passed())
}

fn caught(case: &Case) -> (u64, Scenario) {
    let buggy = planted(case.scenario, case.bug);
    let (seed, report) = first_failure(&buggy).unwrap_or_else(|| {
        panic!(
            "{} was not caught by {} in {SEEDS_MAX} seeds",
            case.bug, case.scenario
        )
    });
    let failing = failing_checkers(&report);
    assert!(
        failing
            .iter()
            .any(|name| case.checkers.contains(&name.as_str())),
        "{} at {} seed {seed} failed {failing:?}, not {:?}:\n{}",
        case.bug,
        case.scenario,
        case.checkers,
        report.render()
    );
    let clean = run(seed, &scenario(case.scenario));
    assert!(
        clean.passed(),
        "{} seed {seed} fails without the bug too:\n{}",
        case.scenario,
        clean.render()
    );
    let rate = (0..CATCH_RATE_SEEDS)
        .filter(|&seed| !run(seed, &buggy).passed())
        .count();
    eprintln!(
        "self-test: {} caught by {} at seed {seed} ({failing:?}); {rate} of seeds 0..{CATCH_RATE_SEEDS} catch it",
        case.bug, case.scenario
    );
    (seed, buggy)
}

fn case(bug: &str) -> &'static Case {
    CASES.iter().find(|c| c.bug == bug).expect("a case")
}

#[test]
fn reply_before_fsync_is_caught() {
    caught(case("reply-before-fsync"));
}

#[test]
fn torn_tail_kept_is_caught() {
    caught(case("torn-tail-kept"));
}

#[test]
fn short_write_drops_buffer_is_caught() {
    caught(case("short-write-drops-buffer"));
}

#[test]
fn rename_without_dir_fsync_is_caught() {
    caught(case("rename-without-dir-fsync"));
}

#[test]
fn fsync_error_ignored_is_caught() {
    caught(case("fsync-error-ignored"));
}

#[test]
fn resumed_value_skips_element_is_caught() {
    caught(case("resumed-value-skips-element"));
}

#[test]
fn rewrite_scores_rounded_is_caught() {
    caught(case("rewrite-scores-rounded"));
}

#[test]
fn script_effects_not_wrapped_is_caught() {
    caught(case("script-effects-not-wrapped"));
}

#[test]
fn held_request_runs_twice_is_caught() {
    caught(case("held-request-runs-twice"));
}

#[test]
fn torn_multi_applied_is_caught() {
    caught(case("torn-multi-applied"));
}

#[test]
fn replica_offset_skips_split_is_caught() {
    caught(case("replica-offset-skips-split"));
}

#[test]
fn replica_expires_by_its_clock_is_caught() {
    caught(case("replica-expires-by-its-clock"));
}

#[test]
fn wait_counts_online_replicas_is_caught() {
    caught(case("wait-counts-online-replicas"));
}

#[test]
fn publish_ahead_of_its_transaction_is_caught() {
    caught(case("publish-ahead-of-its-transaction"));
}

#[test]
fn replica_runs_transactions_unqueued_is_caught() {
    caught(case("replica-runs-transactions-unqueued"));
}

#[test]
fn shutdown_ignores_lagging_replicas_is_caught() {
    caught(case("shutdown-ignores-lagging-replicas"));
}

/// Half a transaction applied breaks an application's invariant, and the
/// `apps` checker says which: the market's money or items, a log
/// processor's counts against its checkpoint, or a job in two places. It
/// judges the recovered data alone, without the model.
#[test]
fn torn_multi_applied_breaks_an_application_invariant() {
    let buggy = planted("apps", "torn-multi-applied");
    let (seed, report) = (0..SEEDS_MAX)
        .map(|seed| (seed, run(seed, &buggy)))
        .find(|(_, report)| failing_checkers(report).iter().any(|name| name == "apps"))
        .expect("the apps checker catches a torn transaction");
    let apps = report
        .verdicts
        .iter()
        .find(|verdict| verdict.name == "apps")
        .expect("an apps verdict");
    let named = ["conserved", "counts do not match", " is in ", "is nowhere"];
    assert!(
        apps.violations
            .iter()
            .any(|text| named.iter().any(|words| text.contains(words))),
        "seed {seed}: {:?}",
        apps.violations
    );
    eprintln!(
        "self-test: torn-multi-applied breaks an application invariant at apps seed {seed}: {}",
        apps.violations[0]
    );
}

/// A caught bug shrinks to a scenario file with fewer clients and requests
/// that, parsed back from its text, still fails the same checker at the
/// same seed.
#[test]
fn a_caught_bug_shrinks_to_a_replayable_file() {
    let case = case("reply-before-fsync");
    let (seed, buggy) = caught(case);
    let original = run(seed, &buggy);
    let shrunk = shrink(seed, &buggy).expect("the failure shrinks");
    assert!(
        shrunk
            .failing
            .iter()
            .any(|name| case.checkers.contains(&name.as_str())),
        "{:?}",
        shrunk.failing
    );
    let replayed = Scenario::parse(&shrunk.text).expect("the shrunk file parses");
    let report = run(seed, &replayed);
    let failing = failing_checkers(&report);
    assert!(
        failing
            .iter()
            .any(|name| case.checkers.contains(&name.as_str())),
        "the shrunk file at seed {seed} fails {failing:?}:\n{}\n{}",
        shrunk.text,
        report.render()
    );
    let sent = |report: &Report| report.client_totals.requests_sent;
    assert!(
        sent(&report) < sent(&original),
        "shrinking kept every request: {} of {}",
        sent(&report),
        sent(&original)
    );
    eprintln!(
        "self-test: shrunk {} seed {seed} from {} to {} requests in {} runs",
        case.scenario,
        sent(&original),
        sent(&report),
        shrunk.runs
    );
}

/// The general swarm (`scenarios/swarm.toml`, every fault on, each seed its
/// own mix) catches every planted bug too, not only the scenario written
/// for it.
/// Planted bugs the main swarm does not catch within [`SEEDS_MAX`] seeds,
/// and why; their own scenario does (above). A gap to close, named here
/// so that it stays visible. None today: `shutdown-ignores-lagging-replicas`
/// was one until switchovers came with a lagging replica
/// (`FaultPlan::add_switchover_lag`).
const SWARM_MISSES: &[(&str, &str)] = &[];

#[test]
fn the_swarm_catches_every_planted_bug() {
    for case in CASES {
        if let Some((_, why)) = SWARM_MISSES.iter().find(|(bug, _)| *bug == case.bug) {
            eprintln!("self-test: {} is not asked of the swarm: {why}", case.bug);
            continue;
        }
        let buggy = planted("swarm", case.bug);
        let (seed, report) = first_failure(&buggy)
            .unwrap_or_else(|| panic!("{} was not caught by swarm in {SEEDS_MAX} seeds", case.bug));
        let clean = run(seed, &scenario("swarm"));
        assert!(clean.passed(), "swarm seed {seed} fails without the bug");
        eprintln!(
            "self-test: {} caught by swarm at seed {seed} ({:?})",
            case.bug,
            failing_checkers(&report)
        );
    }
}
