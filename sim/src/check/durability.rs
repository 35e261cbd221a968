//! The durability checkers, judged at every restart (DESIGN.md §4).
//!
//! An incarnation's trace, replayed through the reference [`Model`], gives
//! the executed write log L: one [`WriteUnit`] per top-level command that
//! changed the dataset (a MULTI/EXEC is one unit: its commands run just
//! before the EXEC event, and the unit closes at the EXEC), each with the
//! dataset changes it made and, once known, when its reply left the node.
//!
//! * prefix: the dataset the restarted node recovered equals L applied up
//!   to some point k (transactions whole, since units are). The search
//!   starts from the model's state at the crash and undoes units from the
//!   end, keeping the set of keys that still differ, so it costs the size
//!   of the changes, not units × keys. The largest such k is taken.
//! * durable: k covers every write whose reply left the node before the
//!   crash (`always` after power loss, and every policy after a process
//!   crash, where the page cache survives and a reply never leaves before
//!   its write reached the file), or only those that left more than
//!   [`EVERYSEC_WINDOW_MS`] before the crash (`everysec` after power
//!   loss). `appendfsync no` after power loss, and RDB-only persistence,
//!   promise only prefix.
//!
//! Comparisons use what a client could observe at the restart's wall time:
//! a key whose expiry has passed counts as absent on either side.

use std::collections::{BTreeMap, BTreeSet};

use redoubt_core::config::AppendFsync;
use redoubt_core::env::ConnId;

use crate::check::model::{Change, Dataset, DbKey, Entry, Model};
use crate::world::disk::CrashKind;
use crate::world::trace::{TraceEvent, TraceRecord};

/// How long before a crash an `everysec` acknowledgement must have left to
/// be owed durability (Redis's promise: at most two seconds lost).
pub const EVERYSEC_WINDOW_MS: u64 = 2000;

/// One unit of the write log: a top-level command (or a whole MULTI/EXEC)
/// that changed the dataset, with the changes of any expiry traced before
/// it.
#[derive(Debug, Clone, Default)]
pub struct WriteUnit {
    pub changes: Vec<Change>,
    /// The connection that ran the command and the offset in that
    /// connection's reply stream where the command's reply ends; `None`
    /// for changes no command owns (an expiry after the last command).
    pub reply_end: Option<(ConnId, u64)>,
    /// Simulated ms at which the reply left the node, if it did.
    pub released_at_ms: Option<u64>,
}

/// The write log of one incarnation, oldest unit first.
#[derive(Debug, Clone, Default)]
pub struct WriteLog {
    pub units: Vec<WriteUnit>,
}

/// Replies a connection was sent: (simulated ms, bytes sent so far).
pub type Releases = [(u64, u64)];

impl WriteLog {
    /// Feeds `trace` through `model` and groups what changed into units.
    pub fn from_trace(model: &mut Model, trace: &[TraceRecord]) -> WriteLog {
        let mut log = WriteLog::default();
        let mut reply_bytes: BTreeMap<ConnId, u64> = BTreeMap::new();
        for record in trace {
            model.apply(record);
            match &record.event {
                TraceEvent::Executed {
                    conn,
                    reply,
                    in_transaction: false,
                    ..
                } => {
                    let sent = reply_bytes.entry(*conn).or_default();
                    *sent += reply.len() as u64;
                    let changes = model.take_changes();
                    if !changes.is_empty() {
                        log.units.push(WriteUnit {
                            changes,
                            reply_end: Some((*conn, *sent)),
                            released_at_ms: None,
                        });
                    }
                }
                TraceEvent::Rejected { conn, reply, .. } => {
                    *reply_bytes.entry(*conn).or_default() += reply.len() as u64;
                }
                _ => {}
            }
        }
        let rest = model.take_changes();
        if !rest.is_empty() {
            log.units.push(WriteUnit {
                changes: rest,
                ..WriteUnit::default()
            });
        }
        log
    }

    /// Sets each unit's release time from what each connection was sent.
    pub fn mark_releases<'a>(&mut self, releases: impl Fn(ConnId) -> Option<&'a Releases>) {
        for unit in &mut self.units {
            let Some((conn, end)) = unit.reply_end else {
                continue;
            };
            unit.released_at_ms = releases(conn).and_then(|sent| {
                let at = sent.partition_point(|&(_, bytes)| bytes < end);
                sent.get(at).map(|&(at_ms, _)| at_ms)
            });
        }
    }

    /// The smallest prefix length that holds every unit `rule` says must
    /// survive a crash at `crash_ms`.
    pub fn required_prefix(&self, rule: DurableRule, crash_ms: u64) -> usize {
        let owed = |released_ms: u64| match rule.window_ms {
            None => true,
            Some(window) => released_ms.saturating_add(window) < crash_ms,
        };
        self.units
            .iter()
            .rposition(|unit| unit.released_at_ms.is_some_and(owed))
            .map_or(0, |index| index + 1)
    }
}

/// A durability promise checked after a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableRule {
    /// How reports name it.
    pub name: &'static str,
    /// Only replies that left more than this long before the crash are
    /// owed; `None`: every reply that left.
    pub window_ms: Option<u64>,
}

/// The durability promise a crash of `kind` must keep, if any beyond
/// prefix. `aof_policy` is `None` when the AOF is off.
pub fn durable_rule(aof_policy: Option<AppendFsync>, kind: CrashKind) -> Option<DurableRule> {
    let policy = aof_policy?;
    match (kind, policy) {
        (CrashKind::Process, _) => Some(DurableRule {
            name: "written",
            window_ms: None,
        }),
        (CrashKind::PowerLoss, AppendFsync::Always) => Some(DurableRule {
            name: "always",
            window_ms: None,
        }),
        (CrashKind::PowerLoss, AppendFsync::EverySec) => Some(DurableRule {
            name: "everysec",
            window_ms: Some(EVERYSEC_WINDOW_MS),
        }),
        (CrashKind::PowerLoss, AppendFsync::No) => None,
    }
}

fn lookup<'a>(data: &'a Dataset, key: &DbKey) -> Option<&'a Entry> {
    data.get(&key.0)?.get(&key.1)
}

/// What a client could see of `entry` at wall time `wall_ms`.
fn observable(entry: Option<&Entry>, wall_ms: i64) -> Option<&Entry> {
    entry.filter(|e| !e.is_due(wall_ms))
}

fn set(data: &mut Dataset, key: &DbKey, entry: Option<Entry>) {
    let keys = data.entry(key.0).or_default();
    match entry {
        Some(entry) => {
            keys.insert(key.1.clone(), entry);
        }
        None => {
            keys.remove(&key.1);
        }
    }
}

/// The largest k such that `units[..k]` applied to the incarnation's
/// starting state gives `recovered`, as observed at `wall_ms`; `final_state`
/// is the state after all units. `None` if no prefix matches.
pub fn find_prefix(
    final_state: &Dataset,
    units: &[WriteUnit],
    recovered: &Dataset,
    wall_ms: i64,
) -> Option<usize> {
    search_prefix(final_state, units, recovered, wall_ms).found
}

/// A key that differs: (key, what was recovered, what the model holds).
type Difference = (DbKey, Option<Entry>, Option<Entry>);

/// What the backward search saw.
struct Search {
    found: Option<usize>,
    /// The prefix with the fewest differing keys, and some of those keys:
    /// what a failure report shows.
    closest: (usize, Vec<Difference>),
}

fn search_prefix(
    final_state: &Dataset,
    units: &[WriteUnit],
    recovered: &Dataset,
    wall_ms: i64,
) -> Search {
    let mut current = final_state.clone();
    let differs = |current: &Dataset, key: &DbKey| {
        observable(lookup(current, key), wall_ms) != observable(lookup(recovered, key), wall_ms)
    };
    let mut differing: BTreeSet<DbKey> = current
        .iter()
        .chain(recovered.iter())
        .flat_map(|(db, keys)| keys.keys().map(move |key| (*db, key.clone())))
        .filter(|key| differs(&current, key))
        .collect();
    let mut closest = (units.len(), usize::MAX, Vec::new());
    let mut k = units.len();
    loop {
        if differing.is_empty() {
            return Search {
                found: Some(k),
                closest: (k, Vec::new()),
            };
        }
        if differing.len() < closest.1 {
            let shown = differing.iter().take(DIFFERENCES_SHOWN_MAX).map(|key| {
                let seen = |data: &Dataset| observable(lookup(data, key), wall_ms).cloned();
                (key.clone(), seen(recovered), seen(&current))
            });
            closest = (k, differing.len(), shown.collect());
        }
        if k == 0 {
            return Search {
                found: None,
                closest: (closest.0, closest.2),
            };
        }
        k -= 1;
        for change in units[k].changes.iter().rev() {
            set(&mut current, &change.key, change.before.clone());
            if differs(&current, &change.key) {
                differing.insert(change.key.clone());
            } else {
                differing.remove(&change.key);
            }
        }
    }
}

/// Differing keys a failed prefix search reports, at most.
const DIFFERENCES_SHOWN_MAX: usize = 3;

fn show_entry(entry: &Option<Entry>) -> String {
    match entry {
        None => "absent".to_string(),
        Some(Entry {
            value,
            expire_at_ms: None,
        }) => format!("{:?}", String::from_utf8_lossy(value)),
        Some(Entry {
            value,
            expire_at_ms: Some(at),
        }) => format!("{:?} expiring at {at}", String::from_utf8_lossy(value)),
    }
}

/// The verdict of one durability promise at one restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableCheck {
    pub rule: DurableRule,
    /// Units that had to be in the recovered prefix.
    pub required: usize,
    pub passed: bool,
    /// On failure: the last owed unit, described for the report.
    pub lost: Option<String>,
}

/// What the checkers found at one restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCheck {
    /// Units in the incarnation's write log.
    pub units: usize,
    /// Units the recovered dataset holds, if it is a prefix at all.
    pub prefix: Option<usize>,
    /// When no prefix matches: the closest one and how it differs.
    pub mismatch: Option<String>,
    pub durable: Option<DurableCheck>,
}

impl RecoveryCheck {
    pub fn passed(&self) -> bool {
        self.prefix.is_some() && self.durable.as_ref().is_none_or(|d| d.passed)
    }
}

/// Judges a recovered dataset against the write log of the incarnation
/// that crashed at `crash_ms`.
pub fn check_recovery(
    final_state: &Dataset,
    log: &WriteLog,
    recovered: &Dataset,
    wall_ms: i64,
    rule: Option<DurableRule>,
    crash_ms: u64,
) -> RecoveryCheck {
    let search = search_prefix(final_state, &log.units, recovered, wall_ms);
    let prefix = search.found;
    let mismatch = prefix.is_none().then(|| {
        let (k, keys) = &search.closest;
        let shown: Vec<String> = keys
            .iter()
            .map(|(key, seen, model)| {
                format!(
                    "db{}:{} recovered {} but the model has {}",
                    key.0,
                    String::from_utf8_lossy(&key.1),
                    show_entry(seen),
                    show_entry(model)
                )
            })
            .collect();
        format!("closest is k = {k}: {}", shown.join("; "))
    });
    let durable = rule.map(|rule| {
        let required = log.required_prefix(rule, crash_ms);
        // With no prefix there is nothing to hold the owed units: a failure
        // whenever some were owed (prefix reports the mismatch itself).
        let passed = prefix.map_or(required == 0, |k| k >= required);
        DurableCheck {
            rule,
            required,
            passed,
            lost: (!passed).then(|| describe(&log.units[required - 1], required)),
        }
    });
    RecoveryCheck {
        units: log.units.len(),
        prefix,
        mismatch,
        durable,
    }
}

/// One unit, as a violation names it.
fn describe(unit: &WriteUnit, number: usize) -> String {
    let keys: Vec<String> = unit
        .changes
        .iter()
        .map(|c| format!("db{}:{}", c.key.0, String::from_utf8_lossy(&c.key.1)))
        .collect();
    let conn = unit.reply_end.map_or(0, |(conn, _)| conn);
    format!(
        "unit {number} (conn {conn}, keys {}, reply left at {} ms)",
        keys.join(" "),
        unit.released_at_ms.unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn executed(conn: ConnId, words: &[&str], reply: &str, in_transaction: bool) -> TraceRecord {
        TraceRecord {
            monotonic_ms: 0,
            wall_ms: 1_000,
            event: TraceEvent::Executed {
                conn,
                db: 0,
                argv: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
                reply: reply.as_bytes().to_vec(),
                in_transaction,
            },
        }
    }

    /// SET a, INCR n, MULTI { SET b, INCR n } EXEC, SET a again: four
    /// units, replies released at 10, 20, 30 and 40 ms.
    fn history() -> (Dataset, WriteLog) {
        let trace = vec![
            executed(1, &["SET", "a", "1"], "+OK\r\n", false),
            executed(2, &["INCR", "n"], ":1\r\n", false),
            executed(1, &["GET", "a"], "$1\r\n1\r\n", false),
            executed(2, &["MULTI"], "+OK\r\n", false),
            executed(2, &["SET", "b", "x"], "+OK\r\n", true),
            executed(2, &["INCR", "n"], ":2\r\n", true),
            executed(2, &["EXEC"], "*2\r\n+OK\r\n:2\r\n", false),
            executed(1, &["SET", "a", "2"], "+OK\r\n", false),
        ];
        let mut model = Model::default();
        let mut log = WriteLog::from_trace(&mut model, &trace);
        assert!(model.verdict().passed(), "{:?}", model.verdict().violations);
        let sent: BTreeMap<ConnId, Vec<(u64, u64)>> = [
            (1, vec![(10, 5), (25, 12), (40, 17)]),
            (2, vec![(20, 4), (30, 24)]),
        ]
        .into();
        log.mark_releases(|conn| sent.get(&conn).map(Vec::as_slice));
        (model.data().clone(), log)
    }

    fn dataset(pairs: &[(&str, &str)]) -> Dataset {
        let keys = pairs
            .iter()
            .map(|(k, v)| {
                let entry = Entry {
                    value: v.as_bytes().to_vec(),
                    expire_at_ms: None,
                };
                (k.as_bytes().to_vec(), entry)
            })
            .collect();
        [(0, keys)].into()
    }

    const ALWAYS: Option<DurableRule> = Some(DurableRule {
        name: "always",
        window_ms: None,
    });

    /// The log has one unit per write, the transaction whole, each with the
    /// time its reply left.
    #[test]
    fn units_follow_writes_and_transactions() {
        let (_, log) = history();
        assert_eq!(log.units.len(), 4);
        assert_eq!(log.units[2].changes.len(), 2);
        let released: Vec<_> = log.units.iter().map(|u| u.released_at_ms).collect();
        assert_eq!(released, [Some(10), Some(20), Some(30), Some(40)]);
    }

    /// Every prefix is found, the largest first; the full one passes
    /// `always`.
    #[test]
    fn finds_each_prefix() {
        let (end, log) = history();
        let states = [
            dataset(&[]),
            dataset(&[("a", "1")]),
            dataset(&[("a", "1"), ("n", "1")]),
            dataset(&[("a", "1"), ("n", "2"), ("b", "x")]),
            dataset(&[("a", "2"), ("n", "2"), ("b", "x")]),
        ];
        for (k, state) in states.iter().enumerate() {
            assert_eq!(find_prefix(&end, &log.units, state, 0), Some(k));
        }
        let check = check_recovery(&end, &log, &states[4], 0, ALWAYS, 50);
        assert!(check.passed(), "{check:?}");
    }

    /// Under `always`, a recovered dataset that lacks an acknowledged write
    /// is a prefix but fails durability.
    #[test]
    fn missing_acknowledged_write_fails_always() {
        let (end, log) = history();
        let recovered = dataset(&[("a", "1"), ("n", "2"), ("b", "x")]);
        let check = check_recovery(&end, &log, &recovered, 0, ALWAYS, 50);
        assert_eq!(check.prefix, Some(3));
        assert!(!check.passed());
        assert_eq!(check.durable.unwrap().required, 4);
        // Had its reply not left before the crash, losing it is allowed.
        let mut unreleased = log.clone();
        unreleased.units[3].released_at_ms = None;
        assert!(check_recovery(&end, &unreleased, &recovered, 0, ALWAYS, 50).passed());
    }

    /// Under `everysec`, only replies older than the window are owed.
    #[test]
    fn everysec_owes_only_old_acknowledgements() {
        let (end, log) = history();
        let rule = durable_rule(Some(AppendFsync::EverySec), CrashKind::PowerLoss);
        let recovered = dataset(&[("a", "1"), ("n", "1")]);
        let soon = check_recovery(&end, &log, &recovered, 0, rule, 2_025);
        assert!(soon.passed(), "{soon:?}");
        let later = check_recovery(&end, &log, &recovered, 0, rule, 2_031);
        assert!(!later.passed());
        assert_eq!(later.durable.unwrap().required, 3);
    }

    /// A value no prefix ever held fails prefix.
    #[test]
    fn not_a_prefix_fails() {
        let (end, log) = history();
        let recovered = dataset(&[("a", "2"), ("n", "1")]);
        let check = check_recovery(&end, &log, &recovered, 0, None, 50);
        assert_eq!(check.prefix, None);
        assert!(!check.passed());
        let invented = dataset(&[("a", "1"), ("n", "1"), ("z", "0")]);
        assert_eq!(find_prefix(&end, &log.units, &invented, 0), None);
    }

    /// Half a transaction (its SET without its INCR) is no prefix.
    #[test]
    fn torn_transaction_fails() {
        let (end, log) = history();
        let torn = dataset(&[("a", "1"), ("n", "1"), ("b", "x")]);
        assert_eq!(find_prefix(&end, &log.units, &torn, 0), None);
        let other_half = dataset(&[("a", "1"), ("n", "2")]);
        assert_eq!(find_prefix(&end, &log.units, &other_half, 0), None);
    }

    /// A key past its time is absent on either side; before it, its value
    /// and expiry must match exactly.
    #[test]
    fn expired_keys_compare_as_observed() {
        let trace = vec![TraceRecord {
            monotonic_ms: 0,
            wall_ms: 1_000,
            event: TraceEvent::Executed {
                conn: 1,
                db: 0,
                argv: ["SET", "t", "v", "PX", "100"]
                    .iter()
                    .map(|w| w.as_bytes().to_vec())
                    .collect(),
                reply: b"+OK\r\n".to_vec(),
                in_transaction: false,
            },
        }];
        let mut model = Model::default();
        let log = WriteLog::from_trace(&mut model, &trace);
        let end = model.data().clone();
        let empty = dataset(&[]);
        assert_eq!(find_prefix(&end, &log.units, &empty, 1_100), Some(1));
        assert_eq!(find_prefix(&end, &log.units, &end, 1_100), Some(1));
        assert_eq!(find_prefix(&end, &log.units, &empty, 1_099), Some(0));
        let mut other_expiry = end.clone();
        other_expiry
            .get_mut(&0)
            .unwrap()
            .get_mut(&b"t"[..])
            .unwrap()
            .expire_at_ms = Some(1_200);
        assert_eq!(find_prefix(&end, &log.units, &other_expiry, 1_050), None);
    }
}
