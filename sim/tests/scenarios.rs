//! Snapshot tests: the report of each scenario at a fixed seed, kept in
//! reports/ so any change of behaviour shows up as a reviewed diff.

use redoubt_sim::{run_seed, Scenario};

/// The seed every scenario snapshot runs.
const SNAPSHOT_SEED: u64 = 42;

fn report_of(name: &str) -> redoubt_sim::Report {
    let path = format!("{}/../scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("scenario file");
    let scenario = Scenario::parse(&text).expect("valid scenario");
    let shown = format!("scenarios/{name}.toml");
    run_seed(SNAPSHOT_SEED, &scenario, Some(&shown)).expect("run")
}

fn snapshot(name: &str) {
    let report = report_of(name);
    let text = report.render();
    insta::with_settings!({snapshot_path => "../../reports", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!(name, text);
    });
    assert!(report.passed(), "{text}");
}

/// The smoke scenario's report at the snapshot seed is unchanged and passes.
#[test]
fn smoke() {
    snapshot("smoke");
}

/// The transactions scenario's report at the snapshot seed is unchanged and
/// passes.
#[test]
fn transactions() {
    snapshot("transactions");
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
