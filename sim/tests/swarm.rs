//! The swarm as CI systems and people use it: shard arithmetic, merging
//! shards' JSON reports, panics and stops inside a swarm, the JUnit
//! report, the command line's errors and exit codes, and the deployment
//! files that run a campaign on a batch system.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;

use redoubt_sim::report::json::SwarmReport;
use redoubt_sim::report::junit::junit_xml;
use redoubt_sim::report::merge::{merge, MergeInput};
use redoubt_sim::run::scenario_files::ScenarioSource;
use redoubt_sim::run::swarm::{run_swarm, run_swarm_with, SeedRange, Shard, SwarmPlan};
use redoubt_sim::{run_seed, Scenario};

const BINARY: &str = env!("CARGO_BIN_EXE_redoubt-sim");

/// A scenario of `scenarios/`, named as from the repository's root.
fn scenario(name: &str) -> ScenarioSource {
    let file = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&file).expect("the scenario file exists");
    ScenarioSource {
        scenario: Scenario::parse(&text).expect("a valid scenario"),
        path: Some(format!("scenarios/{name}.toml")),
    }
}

fn plan(scenarios: &[ScenarioSource], seeds: SeedRange, shard: Shard) -> SwarmPlan<'_> {
    SwarmPlan {
        scenarios,
        seeds,
        shard,
        jobs: 2,
    }
}

/// A fresh directory for one test's files.
fn scratch(test: &str) -> PathBuf {
    let directory =
        std::env::temp_dir().join(format!("redoubt-sim-swarm-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&directory);
    std::fs::create_dir_all(&directory).expect("create a scratch directory");
    directory
}

fn path_text(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temp path").to_string()
}

fn simulator(arguments: &[&str]) -> Output {
    Command::new(BINARY)
        .args(arguments)
        .output()
        .expect("run the simulator binary")
}

proptest! {
    /// The N shards of a range run every seed of it exactly once.
    #[test]
    fn shards_run_every_seed_once(start in 0u64..1_000_000, length in 1u64..600, count in 1u64..70) {
        let range = SeedRange::new(start, start + length).unwrap();
        let mut runs: BTreeMap<u64, u64> = BTreeMap::new();
        for index in 0..count {
            for seed in range.shard(Shard { index, count }) {
                *runs.entry(seed).or_default() += 1;
            }
        }
        prop_assert_eq!(runs.len() as u64, length, "every seed of the range runs, no other");
        prop_assert!(runs.keys().all(|&seed| seed >= range.start && seed < range.end), "none outside it");
        prop_assert!(runs.values().all(|&times| times == 1), "none twice");
    }

    /// For any range, even near the top of u64, the shards tile it in order
    /// and their sizes differ by one at most (so no machine gets twice the work).
    #[test]
    fn shards_tile_any_range(start in any::<u64>(), length in 1u64.., count in 1u64..10_000) {
        let end = start.saturating_add(length);
        prop_assume!(start < end);
        let range = SeedRange::new(start, end).unwrap();
        let mut next = start;
        let (mut smallest, mut largest) = (u64::MAX, 0);
        for index in 0..count.min(2_000) {
            let seeds = range.shard(Shard { index, count });
            prop_assert_eq!(seeds.start, next, "shard {} starts where the one before ended", index);
            smallest = smallest.min(seeds.end - seeds.start);
            largest = largest.max(seeds.end - seeds.start);
            next = seeds.end;
        }
        if count <= 2_000 {
            prop_assert_eq!(next, end, "the last shard ends at the range's end");
            prop_assert!(largest - smallest <= 1, "sizes {}..={} differ by more than one", smallest, largest);
        }
    }
}

/// Merging the JSON reports of 3 shards gives the summary, records and
/// text one unsharded swarm over the same 40 seeds gives.
#[test]
fn merged_shards_summarize_like_one_swarm() {
    let scenarios = [scenario("smoke")];
    let seeds = SeedRange::new(0, 40).unwrap();
    let stop = AtomicBool::new(false);
    let whole = run_swarm(&plan(&scenarios, seeds, Shard::WHOLE), &stop);
    let whole = SwarmReport::of_swarm(&whole, seeds, Shard::WHOLE);
    let mut inputs = Vec::new();
    for index in [2, 0, 1] {
        let shard = Shard { index, count: 3 };
        let outcome = run_swarm(&plan(&scenarios, seeds, shard), &stop);
        let json = SwarmReport::of_swarm(&outcome, seeds, shard).to_json();
        let file = format!("shard-{index}.json");
        let report = SwarmReport::from_json(&file, &json).expect("a shard's JSON reads back");
        inputs.push(MergeInput { file, report });
    }
    let merged = merge(&inputs).expect("three distinct shards merge");
    assert!(
        merged.gaps.is_empty(),
        "no shard is missing: {:?}",
        merged.gaps
    );
    assert!(merged.report.complete, "all shards ran all their seeds");
    assert_eq!(
        merged.report.records, whole.records,
        "each seed's record is the same in a shard"
    );
    assert_eq!(
        merged.report.summary(),
        whole.summary(),
        "one summary, sharded or not"
    );
    assert_eq!(merged.report.summary, whole.summary, "the JSON summary too");
    assert_eq!(
        merged.report.summary().render(),
        whole.summary().render(),
        "the printed summary too"
    );
    let coverage = merged.report.render("merged");
    assert!(
        coverage.contains("seeds: 0..40 (all 3 shards)"),
        "{coverage}"
    );
}

/// A seed in two reports is an error naming the seed and both files.
#[test]
fn merge_names_a_seed_present_twice() {
    let scenarios = [scenario("smoke")];
    let stop = AtomicBool::new(false);
    let mut inputs = Vec::new();
    for (file, start, end) in [("first.json", 0, 4), ("second.json", 3, 6)] {
        let seeds = SeedRange::new(start, end).unwrap();
        let outcome = run_swarm(&plan(&scenarios, seeds, Shard::WHOLE), &stop);
        let report = SwarmReport::of_swarm(&outcome, seeds, Shard::WHOLE);
        inputs.push(MergeInput {
            file: file.into(),
            report,
        });
    }
    let error = merge(&inputs).err().expect("seed 3 is in both reports");
    assert!(
        error.contains("seed 3 of scenario smoke is in first.json and in second.json"),
        "the error names the seed, its scenario and both files: {error}"
    );
    assert!(
        error.starts_with("1 duplicates"),
        "only seed 3 is twice: {error}"
    );
}

/// Shards 0 and 2 of 3, merged: shard 1 and its seeds are named as
/// missing, and the merged report is not complete.
#[test]
fn merge_reports_a_missing_shard() {
    let scenarios = [scenario("smoke")];
    let seeds = SeedRange::new(0, 9).unwrap();
    let stop = AtomicBool::new(false);
    let inputs: Vec<MergeInput> = [0, 2]
        .into_iter()
        .map(|index| {
            let shard = Shard { index, count: 3 };
            let outcome = run_swarm(&plan(&scenarios, seeds, shard), &stop);
            MergeInput {
                file: format!("shard-{index}.json"),
                report: SwarmReport::of_swarm(&outcome, seeds, shard),
            }
        })
        .collect();
    let merged = merge(&inputs).expect("no seed is twice");
    assert_eq!(
        merged.gaps,
        vec!["shard 1/3 is missing from the campaign over seeds 0..9: seeds 3..6 did not run"],
        "the gap names the shard and its seeds"
    );
    assert!(
        !merged.report.complete,
        "a campaign with a gap is not complete"
    );
    let text = merged.report.render("merged");
    assert!(
        text.contains("state: PARTIAL"),
        "the summary says so: {text}"
    );
    assert!(
        text.contains("seeds ran: 0..3, 6..9"),
        "and which seeds ran: {text}"
    );
}

/// A panic inside one seed fails that seed, with the panic's message and
/// its replay command; every other seed still runs and passes.
#[test]
fn a_panicking_seed_fails_alone() {
    let scenarios = [scenario("smoke")];
    let seeds = SeedRange::new(0, 6).unwrap();
    let stop = AtomicBool::new(false);
    let outcome = run_swarm_with(
        &plan(&scenarios, seeds, Shard::WHOLE),
        &stop,
        |seed, source| {
            assert_ne!(seed, 3, "seed 3 trips an assertion");
            run_seed(seed, &source.scenario, source.path.as_deref())
        },
    );
    assert!(!outcome.interrupted, "the swarm goes on past the panic");
    assert_eq!(outcome.records.len(), 6, "every seed has a record");
    let panicked = &outcome.records[3];
    assert!(!panicked.passed, "the panic fails seed 3");
    let message = panicked.panic.as_deref().expect("the panic is recorded");
    assert!(
        message.contains("seed 3 trips an assertion"),
        "its message: {message}"
    );
    assert_eq!(
        panicked.replay,
        "cargo run --release -p redoubt-sim -- run --seed 3 --scenario scenarios/smoke.toml",
        "a panic has a replay command like any failure"
    );
    let others = outcome.records.iter().filter(|r| r.seed != 3);
    assert!(others.clone().all(|r| r.passed), "the other seeds pass");
    let report = SwarmReport::of_swarm(&outcome, seeds, Shard::WHOLE);
    let text = report.render("swarm");
    assert!(
        text.contains("smoke seed 3: panic: "),
        "the summary lists it: {text}"
    );
    assert!(
        text.contains("panicked: 1 of the failed runs"),
        "and counts it: {text}"
    );
    let junit = junit_xml(&report);
    assert!(
        junit.contains("<failure type=\"panic\""),
        "JUnit shows a failure: {junit}"
    );
}

/// A failed checker's first violation and the replay command reach the
/// summary and the JUnit report, escaped there.
#[test]
fn a_failed_checker_reaches_summary_and_junit() {
    let scenarios = [scenario("smoke")];
    let seeds = SeedRange::new(5, 9).unwrap();
    let stop = AtomicBool::new(false);
    let outcome = run_swarm_with(
        &plan(&scenarios, seeds, Shard::WHOLE),
        &stop,
        |seed, source| {
            let mut report = run_seed(seed, &source.scenario, source.path.as_deref())?;
            if seed == 7 {
                report.verdicts[1].passed = false;
                report.verdicts[1].violations = vec!["GET k: <\"a\" & 'b'>\u{1}".into()];
            }
            Ok(report)
        },
    );
    let report = SwarmReport::of_swarm(&outcome, seeds, Shard::WHOLE);
    let text = report.render("swarm");
    let checker = report.records[2].failed[0].checker.clone();
    assert!(
        text.contains(&format!("smoke seed 7: {checker}: GET k: <\"a\" & 'b'>")),
        "the summary names the checker and its violation: {text}"
    );
    assert!(text.contains("replay: cargo run --release -p redoubt-sim -- run --seed 7 --scenario scenarios/smoke.toml"), "{text}");
    let guarantees = &report.summary[0].guarantees[1];
    assert_eq!(
        (guarantees.checked, guarantees.failed),
        (4, 1),
        "4 checked, 1 failed"
    );
    let junit = junit_xml(&report);
    assert!(
        junit.contains("GET k: &lt;&quot;a&quot; &amp; &apos;b&apos;&gt;\u{FFFD}"),
        "the violation is escaped in JUnit: {junit}"
    );
    assert!(junit.contains("failures=\"1\""), "one failure: {junit}");
    well_formed_xml(&junit);
}

/// A stop while seeds run: the runs under way finish, no other starts,
/// and the summary says it is partial and which seeds ran.
#[test]
fn a_stop_leaves_a_partial_summary() {
    let scenarios = [scenario("smoke"), scenario("transactions")];
    let seeds = SeedRange::new(0, 100).unwrap();
    let stop = AtomicBool::new(false);
    let mut swarm = plan(&scenarios, seeds, Shard::WHOLE);
    swarm.jobs = 1;
    let outcome = run_swarm_with(&swarm, &stop, |seed, source| {
        if seed == 4 && source.scenario.name == "transactions" {
            stop.store(true, Ordering::SeqCst);
        }
        run_seed(seed, &source.scenario, source.path.as_deref())
    });
    assert!(outcome.interrupted, "not every seed ran");
    assert_eq!(
        outcome.records.len(),
        10,
        "seeds 0..5 of both scenarios ran"
    );
    let report = SwarmReport::of_swarm(&outcome, seeds, Shard::WHOLE);
    assert!(!report.complete, "the JSON says it is partial");
    let text = report.render("swarm");
    assert!(
        text.contains("state: PARTIAL"),
        "the text says it is partial: {text}"
    );
    assert_eq!(
        text.matches("seeds ran: 0..5").count(),
        2,
        "for each scenario: {text}"
    );
}

/// Several scenarios run the same seeds, and the summary and records
/// group by scenario in the order given.
#[test]
fn scenarios_group_the_summary() {
    let scenarios = [scenario("transactions"), scenario("crash-always")];
    let seeds = SeedRange::new(10, 14).unwrap();
    let outcome = run_swarm(
        &plan(&scenarios, seeds, Shard::WHOLE),
        &AtomicBool::new(false),
    );
    let report = SwarmReport::of_swarm(&outcome, seeds, Shard::WHOLE);
    let order: Vec<(&str, u64)> = report
        .records
        .iter()
        .map(|r| (r.scenario.as_str(), r.seed))
        .collect();
    assert_eq!(
        order,
        [10, 11, 12, 13]
            .map(|s| ("transactions", s))
            .into_iter()
            .chain([10, 11, 12, 13].map(|s| ("crash-always", s)))
            .collect::<Vec<_>>(),
        "by scenario, then seed"
    );
    let text = report.render("swarm");
    let first = text
        .find("scenario transactions (")
        .expect("a transactions group");
    let second = text
        .find("scenario crash-always (")
        .expect("a crash-always group");
    assert!(first < second, "groups in the order given: {text}");
    let crash = &report.summary[1];
    assert!(
        !crash.faults.is_empty(),
        "crash-always names the crashes that fired: {text}"
    );
    assert!(
        crash
            .faults
            .iter()
            .all(|f| f.runs <= 4 && f.injected >= f.runs),
        "a kind fires in at most the 4 runs, at least once in each: {text}"
    );
}

/// The JSON report reads back as written, one record per line.
#[test]
fn json_report_round_trips() {
    let scenarios = [scenario("crash-everysec")];
    let seeds = SeedRange::new(0, 5).unwrap();
    let shard = Shard { index: 1, count: 2 };
    let outcome = run_swarm(&plan(&scenarios, seeds, shard), &AtomicBool::new(false));
    let report = SwarmReport::of_swarm(&outcome, seeds, shard);
    let json = report.to_json();
    let back = SwarmReport::from_json("report.json", &json).expect("valid JSON");
    assert_eq!(back, report, "nothing is lost");
    let records = json.lines().filter(|l| l.contains("\"replay\":")).count();
    assert_eq!(
        records, 3,
        "shard 1 of 2 over 0..5 is seeds 2..5, one line each"
    );
    let error = SwarmReport::from_json("x.json", "{\"format\": 1}").unwrap_err();
    assert!(
        error.starts_with("x.json: "),
        "errors name the file: {error}"
    );
}

/// `--seeds` with an empty, reversed or malformed range exits 2 and says
/// why, instead of running nothing and passing.
#[test]
fn bad_seed_ranges_exit_2() {
    for (seeds, says) in [
        ("5..1", "did you mean 1..5"),
        ("5..5", "holds no seed"),
        ("five", "expected A..B"),
    ] {
        let output = simulator(&["swarm", "--seeds", seeds]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{seeds}: a usage error: {stderr}"
        );
        assert!(
            stderr.contains(says),
            "{seeds}: the error says {says:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{seeds}: no summary of nothing");
    }
}

/// A bad scenario file and a bad `node.config` line are reported with the
/// file's name, and exit 2.
#[test]
fn configuration_errors_name_the_file() {
    let directory = scratch("configuration");
    let broken = directory.join("broken.toml");
    std::fs::write(&broken, "name = \"broken\"\n[workload\n").unwrap();
    let bad_config = directory.join("bad-config.toml");
    let smoke = std::fs::read_to_string(format!(
        "{}/../scenarios/smoke.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let bad_line = smoke.replace(
        "config = [\"timeout 0\"]",
        "config = [\"no-such-directive 1\"]",
    );
    assert_ne!(
        bad_line, smoke,
        "the smoke scenario has the config line to break"
    );
    std::fs::write(&bad_config, bad_line).unwrap();
    for (file, says) in [(&broken, "TOML"), (&bad_config, "no-such-directive")] {
        let file = path_text(file);
        for command in [
            vec!["swarm", "--seeds", "0..3", "--scenario", &file],
            vec!["run", "--seed", "1", "--scenario", &file],
        ] {
            let output = simulator(&command);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{command:?}: exit 2: {stderr}"
            );
            assert!(
                stderr.contains(&format!("{file}: ")),
                "{command:?}: names the file: {stderr}"
            );
            assert!(
                stderr.contains(says),
                "{command:?}: says what is wrong: {stderr}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(directory);
}

/// Ctrl-C (SIGINT) during a swarm: the partial summary is printed, the
/// JSON report is written and marked partial, and the exit code is 130.
#[test]
fn ctrl_c_prints_a_partial_summary() {
    let directory = scratch("interrupt");
    let json = path_text(&directory.join("partial.json"));
    let mut child = Command::new(BINARY)
        .args([
            "swarm",
            "--seeds",
            "0..100000000",
            "--jobs",
            "1",
            "--json",
            &json,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start a long swarm");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    let mut announce = String::new();
    stderr
        .read_line(&mut announce)
        .expect("the swarm announces itself");
    assert!(
        announce.contains("Ctrl-C stops early"),
        "the announcement comes once signals are handled: {announce}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id().to_string();
    let sent = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("run kill");
    assert!(sent.success(), "SIGINT was sent");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("poll the swarm").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the swarm did not stop within 60 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("the swarm's output");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(130),
        "exit 130 after Ctrl-C: {stdout}"
    );
    assert!(
        stdout.contains("state: PARTIAL"),
        "the summary says it is partial: {stdout}"
    );
    assert!(
        stdout.contains("seeds ran: 0.."),
        "and which seeds ran: {stdout}"
    );
    let report = SwarmReport::read(&json).expect("the JSON report is written");
    assert!(!report.complete, "and marked partial");
    assert!(!report.records.is_empty(), "with the seeds that ran");
    let _ = std::fs::remove_dir_all(directory);
}

/// The command line end to end: shards written by `swarm --json` merge
/// with exit 0; a missing shard and a duplicated one exit 2 and say which.
#[test]
fn merge_command_line() {
    let directory = scratch("merge");
    let file = |index: u64| path_text(&directory.join(format!("shard-{index}.json")));
    for index in 0..3 {
        let shard = format!("{index}/3");
        let output = simulator(&[
            "swarm",
            "--seeds",
            "0..12",
            "--shard",
            &shard,
            "--json",
            &file(index),
        ]);
        assert_eq!(output.status.code(), Some(0), "shard {shard} passes");
    }
    let junit = path_text(&directory.join("merged.xml"));
    let (first, second, third) = (file(0), file(1), file(2));
    let output = simulator(&["merge", &first, &second, &third, "--junit", &junit]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a whole campaign that passed: {stdout}"
    );
    assert!(
        stdout.contains("verdict: PASS (12 runs, all passed)"),
        "{stdout}"
    );
    let xml = std::fs::read_to_string(&junit).expect("the JUnit report is written");
    assert_eq!(
        xml.matches("<testcase ").count(),
        12,
        "one testcase per seed"
    );
    well_formed_xml(&xml);
    let output = simulator(&["merge", &first, &third]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "a missing shard: {stdout}");
    assert!(
        stdout.contains("gap: shard 1/3 is missing"),
        "says which: {stdout}"
    );
    let output = simulator(&["merge", &first, &second, &first]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "a duplicate: {stderr}");
    assert!(
        stderr.contains(&format!(
            "seed 0 of scenario default is in {first} and in {first}"
        )),
        "says which: {stderr}"
    );
    let _ = std::fs::remove_dir_all(directory);
}

/// `--help` documents the exit codes and the new options.
#[test]
fn help_documents_exit_codes() {
    let output = simulator(&["swarm", "--help"]);
    let help = String::from_utf8_lossy(&output.stdout);
    for needle in [
        "--shard <I/N>",
        "--json <FILE>",
        "--junit <FILE>",
        "Exit codes:",
        "130",
    ] {
        assert!(
            help.contains(needle),
            "swarm --help mentions {needle}: {help}"
        );
    }
    let output = simulator(&["merge", "--help"]);
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("Exit codes:"), "merge --help too: {help}");
}

/// The GitHub workflow and the Kubernetes Jobs are valid YAML with the
/// shape their comments describe (checked with Python's yaml module, when
/// the machine has it).
#[test]
fn deployment_files_are_valid_yaml() {
    let root = format!("{}/..", env!("CARGO_MANIFEST_DIR"));
    let check = r#"
import sys, yaml
workflow = yaml.safe_load(open(sys.argv[1]))
jobs = workflow["jobs"]
assert jobs["swarm"]["needs"] == "build" and jobs["merge"]["needs"] == "swarm", "build, shards, merge"
matrix = jobs["swarm"]["strategy"]["matrix"]["shard"]
assert "needs.build.outputs.shards" in matrix, "the matrix comes from SHARD_COUNT"
assert "SHARD_COUNT" in workflow["env"] and "SEEDS" in workflow["env"], "N and the range in one place"
documents = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d]
jobs = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Job"}
swarm, merge = jobs["redoubt-swarm"], jobs["redoubt-swarm-merge"]
assert swarm["spec"]["completionMode"] == "Indexed", "one index per shard"
def env(job):
    container = job["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e["value"] for e in container["env"]}
count = swarm["spec"]["completions"]
assert int(env(swarm)["SHARD_COUNT"]) == count == int(env(merge)["SHARD_COUNT"]), "N agrees"
assert "JOB_COMPLETION_INDEX" in swarm["spec"]["template"]["spec"]["containers"][0]["args"][0]
print("ok")
"#;
    let output = Command::new("python3")
        .args(["-c", check])
        .arg(format!("{root}/.github/workflows/swarm.yml"))
        .arg(format!("{root}/deploy/kubernetes/swarm-job.yaml"))
        .output();
    let output = match output {
        Ok(output) => output,
        Err(_) => return eprintln!("skipped: no python3 on this machine"),
    };
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("No module named 'yaml'") {
        return eprintln!("skipped: python3 has no yaml module");
    }
    assert!(
        output.status.success(),
        "the YAML files parse and have their shape: {stderr}"
    );
}

/// Checks that `xml` is well-formed, with Python's parser when the machine
/// has python3.
fn well_formed_xml(xml: &str) {
    let child = Command::new("python3")
        .args([
            "-c",
            "import sys, xml.dom.minidom as m; m.parseString(sys.stdin.buffer.read())",
        ])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return eprintln!("skipped the XML parse: no python3 on this machine");
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(xml.as_bytes())
        .expect("feed the XML");
    let output = child.wait_with_output().expect("python3 ran");
    assert!(
        output.status.success(),
        "the JUnit XML is well-formed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
