//! Determinism meta-tests: the same seed gives the same trace hash and the
//! same report, in one process and across processes; different seeds give
//! different hashes.

use std::process::Command;

use redoubt_sim::{run_seed, Scenario};

fn report_in_new_process(seed: u64) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_redoubt-sim"))
        .args(["run", "--seed", &seed.to_string()])
        .output()
        .expect("run the simulator binary");
    assert!(
        output.status.success(),
        "seed {seed} failed:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8(output.stdout).expect("utf-8 report")
}

fn trace_hash_line(report: &str) -> &str {
    report
        .lines()
        .find(|line| line.starts_with("trace_hash: "))
        .expect("a trace hash line")
}

/// Two processes running one seed print identical reports and hashes.
#[test]
fn same_seed_same_report_across_processes() {
    let first = report_in_new_process(7);
    let second = report_in_new_process(7);
    assert_eq!(trace_hash_line(&first), trace_hash_line(&second));
    assert_eq!(first, second);
}

/// Different seeds lead to different trace hashes.
#[test]
fn different_seeds_different_hashes() {
    let first = report_in_new_process(7);
    let second = report_in_new_process(8);
    assert_ne!(trace_hash_line(&first), trace_hash_line(&second));
}

/// One seed run twice in one process gives the same hash and report: no
/// state leaks between runs.
#[test]
fn same_seed_same_hash_in_process() {
    let scenario = Scenario::default();
    let first = run_seed(11, &scenario, None).expect("run");
    let _other = run_seed(12, &scenario, None).expect("run");
    let second = run_seed(11, &scenario, None).expect("run");
    assert_eq!(first.trace_hash, second.trace_hash);
    assert_eq!(first.render(), second.render());
}

/// A run with crashes and restarts repeats exactly, in one process and
/// in the binary: the restarted node's fresh random stream, the
/// applications' reply-driven clients and the durability checkers add no
/// nondeterminism.
#[test]
fn crash_scenarios_are_deterministic() {
    for name in ["crash-everysec", "apps"] {
        let path = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("scenario file");
        let scenario = Scenario::parse(&text).expect("valid scenario");
        let first = run_seed(5, &scenario, Some(&path)).expect("run");
        let _other = run_seed(6, &scenario, Some(&path)).expect("run");
        let second = run_seed(5, &scenario, Some(&path)).expect("run");
        assert!(!first.restarts.is_empty(), "{name}");
        assert_eq!(first.trace_hash, second.trace_hash, "{name}");
        assert_eq!(first.render(), second.render(), "{name}");
        let output = Command::new(env!("CARGO_BIN_EXE_redoubt-sim"))
            .args(["run", "--seed", "5", "--scenario", &path])
            .output()
            .expect("run the simulator binary");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            first.render(),
            "{name}"
        );
    }
}

/// A master with replicas repeats exactly too: the replicas' own random
/// streams, disks and clocks, the links between nodes and the wait for the
/// replicas to catch up add no nondeterminism, and the replicas' traces
/// are part of the hash.
#[test]
fn replicas_are_deterministic() {
    let path = format!("{}/../scenarios/replicas.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let scenario = Scenario::parse(&text).expect("valid scenario");
    assert_eq!(scenario.topology.replicas, 2);
    for seed in [5, 42] {
        let first = run_seed(seed, &scenario, Some(&path)).expect("run");
        let _other = run_seed(seed + 1, &scenario, Some(&path)).expect("run");
        let second = run_seed(seed, &scenario, Some(&path)).expect("run");
        assert!(
            first.verdicts.iter().any(|v| v.name == "replication"),
            "{}",
            first.render()
        );
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.render(), second.render(), "seed {seed}");
        let output = Command::new(env!("CARGO_BIN_EXE_redoubt-sim"))
            .args(["run", "--seed", &seed.to_string(), "--scenario", &path])
            .output()
            .expect("run the simulator binary");
        assert_eq!(String::from_utf8_lossy(&output.stdout), first.render());
    }
    // Without its replicas the same seed is another run, with another hash.
    let mut alone = scenario.clone();
    alone.topology.replicas = 0;
    alone.topology.nodes = 1;
    let with = run_seed(42, &scenario, None).expect("run");
    let without = run_seed(42, &alone, None).expect("run");
    assert_ne!(with.trace_hash, without.trace_hash);
}
