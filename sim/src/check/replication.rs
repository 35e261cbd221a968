//! Replication: once the run's work is over (after the quiet phase and the
//! final crash, if any), every replica catches up with its master and then
//! holds exactly the master's dataset.
//!
//! The simulator keeps running the nodes (in simulated time, at most
//! [`SETTLE_MS_MAX`]) until every replica's link is up
//! (`master_link_status:up` in INFO replication) and its
//! `master_repl_offset` equals the master's, at the end of an event-loop
//! iteration of every node. A run with a final crash waits so twice: just
//! before the crash (the replicas then hold what they applied from the
//! stream) and at the end (after the restarted master synced them again).
//! Each time, each replica's dataset (every database,
//! values and expiry times, read as the durability checkers read a
//! recovered dataset) must equal the master's. A run in which nothing was
//! replicated (no stream byte applied over the run, and an empty dataset)
//! proves nothing, and fails saying so.

use super::model::value::Data;
use super::model::{Dataset, Entry};
use super::Verdict;

/// How long the run waits for the replicas to catch up, in simulated ms.
pub const SETTLE_MS_MAX: u64 = 120_000;

/// Differences between two datasets reported, at most.
const DIFFERENCES_KEPT_MAX: usize = 5;

/// One replica when the wait ended.
#[derive(Debug, Clone)]
pub struct ReplicaEnd {
    pub number: usize,
    pub addr: String,
    /// `master_link_status:up`.
    pub link_up: bool,
    /// The link's state, as ROLE names it.
    pub link_state: &'static str,
    pub offset: u64,
    pub keys: usize,
    /// How its dataset differs from the master's (the first few).
    pub differences: Vec<String>,
    pub differences_total: usize,
    /// Why it is down (it crashed and did not start again), if it is.
    pub down: Option<String>,
}

/// The replicas and their master when the wait ended.
#[derive(Debug, Clone)]
pub struct ReplicationEnd {
    /// Simulated ms the wait took.
    pub waited_ms: u64,
    /// Every replica's link was up at the master's offset.
    pub caught_up: bool,
    pub master_offset: u64,
    pub master_keys: usize,
    pub replicas: Vec<ReplicaEnd>,
    /// Full syncs the replicas loaded over the run (their history
    /// changed), all replicas together.
    pub full_syncs: u64,
    /// Stream bytes the replicas applied over the run, all together.
    pub stream_bytes: u64,
}

/// The keys of a dataset, over every database.
pub fn key_count(data: &Dataset) -> usize {
    data.values().map(|keys| keys.len()).sum()
}

fn describe(entry: Option<&Entry>) -> String {
    let Some(entry) = entry else {
        return "missing".into();
    };
    let value = match &entry.value {
        Data::String(bytes) => format!("string {:?}", String::from_utf8_lossy(bytes)),
        Data::List(items) => format!("list of {}", items.len()),
        Data::Hash(fields) => format!("hash of {}", fields.len()),
        Data::Set(members) => format!("set of {}", members.len()),
        Data::ZSet(members) => format!("zset of {}", members.len()),
    };
    match entry.expire_at_ms {
        Some(at) => format!("{value}, expires at {at}"),
        None => value,
    }
}

/// How `replica` differs from `master`, key by key in order: the first few
/// differences, and how many there are.
pub fn differences(master: &Dataset, replica: &Dataset) -> (Vec<String>, usize) {
    let mut found = Vec::new();
    let mut total = 0;
    let dbs: std::collections::BTreeSet<usize> =
        master.keys().chain(replica.keys()).copied().collect();
    let empty = Default::default();
    for db in dbs {
        let ours = master.get(&db).unwrap_or(&empty);
        let theirs = replica.get(&db).unwrap_or(&empty);
        let keys: std::collections::BTreeSet<&Vec<u8>> = ours.keys().chain(theirs.keys()).collect();
        for key in keys {
            let (a, b) = (ours.get(key), theirs.get(key));
            if a == b {
                continue;
            }
            total += 1;
            if found.len() < DIFFERENCES_KEPT_MAX {
                found.push(format!(
                    "db {db} key {:?}: master {}, replica {}",
                    String::from_utf8_lossy(key),
                    describe(a),
                    describe(b)
                ));
            }
        }
    }
    (found, total)
}

/// What is wrong at one moment, and its summary.
fn judge_moment(end: &ReplicationEnd, violations: &mut Vec<String>, label: &str) -> String {
    if !end.caught_up {
        for replica in &end.replicas {
            if let Some(why) = &replica.down {
                violations.push(format!(
                    "{label}replica {} ({}) is down after {} ms: {why}",
                    replica.number, replica.addr, end.waited_ms
                ));
            } else if !replica.link_up || replica.offset != end.master_offset {
                violations.push(format!(
                    "{label}replica {} ({}) did not catch up within {} ms: link {} (master_link_status:{}), offset {} of the master's {}",
                    replica.number,
                    replica.addr,
                    end.waited_ms,
                    replica.link_state,
                    if replica.link_up { "up" } else { "down" },
                    replica.offset,
                    end.master_offset
                ));
            }
        }
    }
    for replica in &end.replicas {
        if replica.differences_total > 0 {
            violations.push(format!(
                "{label}replica {} ({}) at offset {} differs from the master at offset {} in {} keys",
                replica.number,
                replica.addr,
                replica.offset,
                end.master_offset,
                replica.differences_total
            ));
            violations.extend(
                replica
                    .differences
                    .iter()
                    .map(|text| format!("{label}replica {}: {text}", replica.number)),
            );
        }
    }
    let count = end.replicas.len();
    if end.caught_up {
        let equal = end
            .replicas
            .iter()
            .filter(|r| r.differences_total == 0)
            .count();
        format!(
            "{label}{count} replicas in sync at offset {} after {} ms, {equal}/{count} datasets equal to the master's ({} keys)",
            end.master_offset, end.waited_ms, end.master_keys
        )
    } else {
        let behind = end
            .replicas
            .iter()
            .filter(|r| !r.link_up || r.offset != end.master_offset)
            .count();
        format!(
            "{label}{behind} of {count} replicas not in sync after {} ms (master at offset {})",
            end.waited_ms, end.master_offset
        )
    }
}

/// The replication verdict: how the replicas stood just before the final
/// crash (when the run has one) and at the end.
pub fn check_replication(before_final: Option<&ReplicationEnd>, end: &ReplicationEnd) -> Verdict {
    let mut violations = Vec::new();
    let mut parts = Vec::new();
    if let Some(before) = before_final {
        parts.push(judge_moment(
            before,
            &mut violations,
            "before the final crash: ",
        ));
        parts.push(judge_moment(end, &mut violations, "at the end: "));
    } else {
        parts.push(judge_moment(end, &mut violations, ""));
    }
    let keys_held = before_final.map_or(0, |b| b.master_keys) + end.master_keys;
    if end.stream_bytes == 0 && keys_held == 0 {
        violations.push(
            "nothing was replicated: no stream byte applied and no key held, so equal datasets prove nothing"
                .into(),
        );
    }
    let summary = format!(
        "{}; over the run {} full syncs loaded, {} stream bytes applied",
        parts.join("; "),
        end.full_syncs,
        end.stream_bytes
    );
    Verdict {
        name: "replication",
        passed: violations.is_empty(),
        summary,
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(value: &str) -> Entry {
        Entry {
            value: Data::String(value.as_bytes().to_vec()),
            expire_at_ms: None,
        }
    }

    fn dataset(pairs: &[(&str, &str)]) -> Dataset {
        let mut data = Dataset::new();
        for (key, value) in pairs {
            data.entry(0)
                .or_default()
                .insert(key.as_bytes().to_vec(), string(value));
        }
        data
    }

    fn end(replica: &Dataset, master: &Dataset, offset: u64) -> ReplicationEnd {
        let (differences, total) = differences(master, replica);
        ReplicationEnd {
            waited_ms: 10,
            caught_up: true,
            master_offset: offset,
            master_keys: key_count(master),
            replicas: vec![ReplicaEnd {
                number: 1,
                addr: "127.0.0.1:6380".into(),
                link_up: true,
                link_state: "connected",
                offset,
                keys: key_count(replica),
                differences,
                differences_total: total,
                down: None,
            }],
            full_syncs: 1,
            stream_bytes: offset,
        }
    }

    #[test]
    fn equal_datasets_pass() {
        let data = dataset(&[("a", "1"), ("b", "2")]);
        let verdict = check_replication(None, &end(&data, &data, 100));
        assert!(verdict.passed, "{verdict:?}");
        assert!(verdict
            .summary
            .starts_with("1 replicas in sync at offset 100"));
    }

    #[test]
    fn a_missing_or_different_key_fails() {
        let master = dataset(&[("a", "1"), ("b", "2")]);
        let replica = dataset(&[("a", "1"), ("b", "3"), ("c", "4")]);
        let verdict = check_replication(None, &end(&replica, &master, 100));
        assert!(!verdict.passed);
        assert!(verdict.violations[0].contains("in 2 keys"), "{verdict:?}");
        assert!(verdict.violations[1].contains("key \"b\""));
        assert!(verdict.violations[2].contains("master missing"));
    }

    #[test]
    fn nothing_replicated_fails() {
        let data = Dataset::new();
        let verdict = check_replication(None, &end(&data, &data, 0));
        assert!(!verdict.passed);
        assert!(verdict.violations[0].contains("nothing was replicated"));
    }

    #[test]
    fn a_replica_behind_fails() {
        let data = dataset(&[("a", "1")]);
        let mut end = end(&data, &data, 100);
        end.caught_up = false;
        end.replicas[0].offset = 40;
        end.replicas[0].link_up = false;
        end.replicas[0].link_state = "connect";
        let verdict = check_replication(None, &end);
        assert!(!verdict.passed);
        assert!(verdict.violations[0].contains("offset 40 of the master's 100"));
    }

    #[test]
    fn a_difference_before_the_final_crash_names_its_moment() {
        let master = dataset(&[("a", "1")]);
        let replica = dataset(&[("a", "2")]);
        let before = end(&replica, &master, 50);
        let after = end(&master, &master, 0);
        let verdict = check_replication(Some(&before), &after);
        assert!(!verdict.passed);
        assert!(
            verdict.violations[0].starts_with("before the final crash: replica 1"),
            "{verdict:?}"
        );
        assert!(
            verdict
                .summary
                .contains("; at the end: 1 replicas in sync at offset 0"),
            "{verdict:?}"
        );
    }
}
