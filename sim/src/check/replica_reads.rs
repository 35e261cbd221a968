//! Reads served by a replica. Redis promises them a prefix, not
//! linearizability: a replica's dataset is its master's at some point of the
//! master's stream, and that point only moves forward while the replica
//! keeps its life and its history.
//!
//! The master's datasets are numbered in the order it reached them: state 0
//! is empty, and each write unit the model applies (a command, a
//! transaction, an expiry) or each dataset node 0 goes on from (a restart, a
//! promotion) makes the next one. [`KeyHistory`] keeps, for every key of
//! database 0, the states at which its value changed, as an MGET sees it (a
//! string, or nil for a missing key or one of another type). States a crash
//! later lost stay in it: a replica may have applied them before its master
//! lost them.
//!
//! Each read is an MGET of a few keys. It is explained by a state that held
//! all its values at once, no earlier than the state that explained the
//! session's previous read ([`judge`] takes the earliest such state, which
//! leaves the most room to the reads after it). A session is one
//! connection within one life and one history (`master_replid`) of the
//! replica: a restart may bring back an older dataset from the replica's own
//! disk, and a full sync from a master that restarted may too.
//!
//! A key with an expiry may read as nil before its master's DEL arrives: a
//! replica whose clock has passed the key's time answers as if it were gone.

use std::collections::BTreeMap;

use super::model::{Dataset, Entry};
use super::Verdict;
use crate::check::model::VIOLATIONS_KEPT_MAX;

/// A key's value as an MGET returns it: `None` for a missing key or one of
/// another type.
type Seen = Option<Vec<u8>>;

/// One value a key held from state `from` on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    from: u64,
    value: Seen,
    /// It had an expiry: a replica may read it as nil.
    volatile: bool,
}

impl Version {
    fn of(from: u64, entry: Option<&Entry>) -> Version {
        let value = entry.and_then(|entry| match &entry.value {
            super::model::value::Data::String(bytes) => Some(bytes.clone()),
            _ => None,
        });
        Version {
            from,
            value,
            volatile: entry.is_some_and(|entry| entry.expire_at_ms.is_some()),
        }
    }

    fn explains(&self, seen: &Seen) -> bool {
        self.value == *seen || (self.volatile && seen.is_none())
    }

    fn same_view(&self, other: &Version) -> bool {
        self.value == other.value && self.volatile == other.volatile
    }
}

/// The values every key of database 0 held, state by state.
#[derive(Debug, Default, Clone)]
pub struct KeyHistory {
    /// The last state reached (0: the empty dataset).
    states: u64,
    versions: BTreeMap<Vec<u8>, Vec<Version>>,
}

impl KeyHistory {
    /// The master reached a new state by changing `keys` (any database),
    /// after which it holds `data`.
    pub fn unit<'a>(&mut self, keys: impl Iterator<Item = &'a (usize, Vec<u8>)>, data: &Dataset) {
        self.states += 1;
        let state = self.states;
        let db0 = data.get(&0);
        for (db, key) in keys {
            if *db != 0 {
                continue;
            }
            let version = Version::of(state, db0.and_then(|keys| keys.get(key)));
            self.push(key, version);
        }
    }

    /// Node 0 goes on from `data`, a restart's or a promotion's dataset.
    pub fn restart(&mut self, data: &Dataset) {
        self.states += 1;
        let state = self.states;
        let db0 = data.get(&0);
        let mut keys: Vec<Vec<u8>> = self.versions.keys().cloned().collect();
        if let Some(held) = db0 {
            keys.extend(
                held.keys()
                    .filter(|key| !self.versions.contains_key(*key))
                    .cloned(),
            );
        }
        for key in keys {
            let version = Version::of(state, db0.and_then(|held| held.get(&key)));
            self.push(&key, version);
        }
    }

    fn push(&mut self, key: &[u8], version: Version) {
        let last = self.versions.get(key).and_then(|versions| versions.last());
        let unchanged = match last {
            Some(last) => last.same_view(&version),
            // Before its first version the key was missing.
            None => version.value.is_none() && !version.volatile,
        };
        if unchanged {
            return;
        }
        // A unit or restart gives each key one view: a second version at
        // the same state would be the same one, returned above.
        self.versions.entry(key.to_vec()).or_default().push(version);
    }

    /// The states (as half-open ranges, in order) at which `key` held what
    /// was `seen`.
    fn states_of(&self, key: &[u8], seen: &Seen) -> Vec<(u64, u64)> {
        let mut ranges = Vec::new();
        let versions = self.versions.get(key).map_or(&[][..], Vec::as_slice);
        let first = versions.first().map_or(u64::MAX, |v| v.from);
        if seen.is_none() && first > 0 {
            ranges.push((0, first));
        }
        for (i, version) in versions.iter().enumerate() {
            let to = versions.get(i + 1).map_or(u64::MAX, |next| next.from);
            if version.explains(seen) {
                match ranges.last_mut() {
                    Some(last) if last.1 == version.from => last.1 = to,
                    _ => ranges.push((version.from, to)),
                }
            }
        }
        ranges
    }

    /// The earliest state at or after `from` that held every value of
    /// `read`, if one did.
    fn earliest(&self, read: &Read, from: u64) -> Option<u64> {
        let mut common = vec![(from, u64::MAX)];
        for (key, seen) in read.keys.iter().zip(&read.values) {
            common = intersect(&common, &self.states_of(key, seen));
            if common.is_empty() {
                return None;
            }
        }
        common.first().map(|range| range.0)
    }
}

/// The intersection of two ordered lists of disjoint half-open ranges.
fn intersect(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        let start = a[i].0.max(b[j].0);
        let end = a[i].1.min(b[j].1);
        if start < end {
            out.push((start, end));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// One MGET a replica answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The reader's session (a connection in one life and history of the
    /// replica).
    pub session: u64,
    /// When the replica answered (simulated ms).
    pub at_ms: u64,
    /// The replica that answered.
    pub node: usize,
    pub keys: Vec<Vec<u8>>,
    pub values: Vec<Seen>,
}

/// What the reader did.
#[derive(Debug, Default, Clone)]
pub struct ReadFindings {
    pub sessions: u64,
    pub reads: Vec<Read>,
    /// Requests the replica refused (`-LOADING`, `-MASTERDOWN` …).
    pub refused: u64,
}

/// How [`judge`] found the reads.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadsJudged {
    pub reads: u64,
    /// Values that were not nil.
    pub values_seen: u64,
    /// Reads explained by a later state than the session's previous read.
    pub moved_forward: u64,
    pub violations: Vec<String>,
    pub violations_total: u64,
}

/// Keys of a read shown in a violation, at most.
const KEYS_SHOWN_MAX: usize = 6;

/// The keys of `read` at `indexes`, with what they read.
fn show(read: &Read, indexes: &[usize]) -> String {
    let mut pairs: Vec<String> = indexes
        .iter()
        .take(KEYS_SHOWN_MAX)
        .map(|&i| (&read.keys[i], &read.values[i]))
        .map(|(key, seen)| {
            let value = match seen {
                Some(bytes) => format!("{:?}", String::from_utf8_lossy(bytes)),
                None => "nil".into(),
            };
            format!("{}={value}", String::from_utf8_lossy(key))
        })
        .collect();
    if read.keys.len() > pairs.len() {
        pairs.push(format!("(of {} keys read)", read.keys.len()));
    }
    pairs.join(" ")
}

/// The keys of a read no state at or after `from` explains: those that
/// alone rule it out, or else the first key that empties the common
/// states with one earlier key whose states it shares none of (or every
/// key up to it).
fn culprits(history: &KeyHistory, read: &Read, from: u64) -> Vec<usize> {
    let after = [(from, u64::MAX)];
    let states: Vec<Vec<(u64, u64)>> = (0..read.keys.len())
        .map(|i| intersect(&after, &history.states_of(&read.keys[i], &read.values[i])))
        .collect();
    let alone: Vec<usize> = (0..states.len())
        .filter(|&i| states[i].is_empty())
        .collect();
    if !alone.is_empty() {
        return alone;
    }
    let mut common = after.to_vec();
    for j in 0..states.len() {
        let next = intersect(&common, &states[j]);
        if next.is_empty() {
            return match (0..j).find(|&i| intersect(&states[i], &states[j]).is_empty()) {
                Some(i) => vec![i, j],
                None => (0..=j).collect(),
            };
        }
        common = next;
    }
    (0..states.len()).collect()
}

/// Judges every read against `history`, session by session.
pub fn judge(history: &KeyHistory, reads: &[Read]) -> ReadsJudged {
    let mut judged = ReadsJudged::default();
    let mut at: BTreeMap<u64, u64> = BTreeMap::new();
    for read in reads {
        judged.reads += 1;
        judged.values_seen += read.values.iter().filter(|v| v.is_some()).count() as u64;
        let from = at.get(&read.session).copied().unwrap_or(0);
        match history.earliest(read, from) {
            Some(state) => {
                judged.moved_forward += u64::from(state > from);
                at.insert(read.session, state);
            }
            None => {
                let (why, keys) = match history.earliest(read, 0) {
                    Some(_) => (
                        format!(
                            "older than state {from}, which an earlier read of the session saw"
                        ),
                        culprits(history, read, from),
                    ),
                    None => (
                        "no state of the master's dataset held these values together".into(),
                        culprits(history, read, 0),
                    ),
                };
                judged.violations_total += 1;
                if judged.violations.len() < VIOLATIONS_KEPT_MAX {
                    judged.violations.push(format!(
                        "{} ms: node {} (session {}) answered MGET {}: {why}",
                        read.at_ms,
                        read.node,
                        read.session,
                        show(read, &keys)
                    ));
                }
            }
        }
    }
    judged
}

/// The verdict, or the reason there is none: no read was served, or none
/// saw a value (an empty key space explains every read; a violation is
/// still reported).
pub fn verdict(history: &KeyHistory, findings: &ReadFindings) -> Result<Verdict, String> {
    if findings.reads.is_empty() {
        return Err(format!(
            "no read was served by a replica ({} sessions, {} refused)",
            findings.sessions, findings.refused
        ));
    }
    let judged = judge(history, &findings.reads);
    if judged.values_seen == 0 && judged.violations_total == 0 {
        return Err(format!(
            "{} MGETs served by a replica, none saw a value",
            judged.reads
        ));
    }
    Ok(Verdict {
        name: "replica_reads",
        passed: judged.violations_total == 0,
        summary: format!(
            "{} MGETs served by a replica in {} sessions ({} values seen, {} moved forward, {} refused), {} violations",
            judged.reads,
            findings.sessions,
            judged.values_seen,
            judged.moved_forward,
            findings.refused,
            judged.violations_total
        ),
        violations: judged.violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::model::value::Data;

    fn string(value: &str, expires: bool) -> Entry {
        Entry {
            value: Data::String(value.as_bytes().to_vec()),
            expire_at_ms: expires.then_some(1_000),
        }
    }

    fn dataset(pairs: &[(&str, Entry)]) -> Dataset {
        let keys = pairs
            .iter()
            .map(|(key, entry)| (key.as_bytes().to_vec(), entry.clone()))
            .collect();
        [(0, keys)].into()
    }

    fn key(name: &str) -> (usize, Vec<u8>) {
        (0, name.as_bytes().to_vec())
    }

    fn read(session: u64, pairs: &[(&str, Option<&str>)]) -> Read {
        Read {
            session,
            at_ms: 0,
            node: 1,
            keys: pairs.iter().map(|(k, _)| k.as_bytes().to_vec()).collect(),
            values: pairs
                .iter()
                .map(|(_, v)| v.map(|v| v.as_bytes().to_vec()))
                .collect(),
        }
    }

    /// a=1 (state 1), then a transaction sets a=2 and b=2 (state 2), then
    /// b=3 (state 3).
    fn history() -> KeyHistory {
        let mut history = KeyHistory::default();
        history.unit([key("a")].iter(), &dataset(&[("a", string("1", false))]));
        let both = dataset(&[("a", string("2", false)), ("b", string("2", false))]);
        history.unit([key("a"), key("b")].iter(), &both);
        let later = dataset(&[("a", string("2", false)), ("b", string("3", false))]);
        history.unit([key("b")].iter(), &later);
        history
    }

    /// Reads that some state held, in a non-decreasing order, pass; half a
    /// transaction, a value never written and a read older than the
    /// session's last are violations, each said as such.
    #[test]
    fn reads_must_be_a_moving_prefix() {
        let history = history();
        let good = [
            read(1, &[("a", None), ("b", None)]),
            read(1, &[("a", Some("1")), ("b", None)]),
            read(1, &[("a", Some("2")), ("b", Some("2"))]),
            read(1, &[("b", Some("3"))]),
            // Another session may be behind the first.
            read(2, &[("a", Some("1"))]),
        ];
        let judged = judge(&history, &good);
        assert_eq!(judged.violations, Vec::<String>::new());
        assert_eq!(judged.moved_forward, 4);
        assert_eq!(judged.values_seen, 5);

        let half = judge(&history, &[read(1, &[("a", Some("2")), ("b", None)])]);
        assert_eq!(half.violations_total, 1);
        assert!(
            half.violations[0].contains("no state"),
            "{:?}",
            half.violations
        );
        assert!(
            half.violations[0].contains("a=\"2\" b=nil"),
            "{:?}",
            half.violations
        );

        let invented = judge(&history, &[read(1, &[("a", Some("7"))])]);
        assert_eq!(invented.violations_total, 1);

        let back = [read(1, &[("b", Some("3"))]), read(1, &[("a", Some("1"))])];
        let back = judge(&history, &back);
        assert_eq!(back.violations_total, 1);
        assert!(
            back.violations[0].contains("older than state 3"),
            "{:?}",
            back.violations
        );
        assert!(
            back.violations[0].contains("MGET a=\"1\":"),
            "{:?}",
            back.violations
        );
    }

    /// A key with an expiry may read as nil; one without may not.
    #[test]
    fn volatile_keys_may_read_as_missing() {
        let mut history = KeyHistory::default();
        history.unit([key("a")].iter(), &dataset(&[("a", string("1", true))]));
        history.unit(
            [key("b")].iter(),
            &dataset(&[("a", string("1", true)), ("b", string("1", false))]),
        );
        let fine = judge(&history, &[read(1, &[("a", None), ("b", Some("1"))])]);
        assert_eq!(fine.violations_total, 0);
        let mut history = KeyHistory::default();
        history.unit([key("a")].iter(), &dataset(&[("a", string("1", false))]));
        history.unit(
            [key("b")].iter(),
            &dataset(&[("a", string("1", false)), ("b", string("1", false))]),
        );
        let lost = judge(&history, &[read(1, &[("a", None), ("b", Some("1"))])]);
        assert_eq!(lost.violations_total, 1);
    }

    /// A restart that lost a tail makes a new state from the recovered
    /// dataset; the lost values stay readable (a replica may hold them),
    /// and reads move on to the recovered ones.
    #[test]
    fn restarts_keep_lost_states() {
        let mut history = history();
        history.restart(&dataset(&[("a", string("1", false))]));
        let reads = [
            read(1, &[("a", Some("2")), ("b", Some("3"))]),
            read(1, &[("a", Some("1")), ("b", None)]),
        ];
        let judged = judge(&history, &reads);
        assert_eq!(judged.violations, Vec::<String>::new());
        assert_eq!(judged.moved_forward, 2);
        // Other types read as nil, as MGET returns them.
        let mut history = KeyHistory::default();
        let list = Entry {
            value: Data::List(vec![b"x".to_vec()].into()),
            expire_at_ms: None,
        };
        history.unit([key("a")].iter(), &dataset(&[("a", list)]));
        assert_eq!(history.versions.get(b"a".as_slice()), None);
    }

    /// No read, or reads that only ever saw nil, give no verdict: they
    /// prove nothing. A read of a value never written still fails.
    #[test]
    fn reads_that_saw_nothing_are_no_verdict() {
        let mut findings = ReadFindings::default();
        assert!(verdict(&KeyHistory::default(), &findings).is_err());
        findings.reads.push(read(1, &[("a", None)]));
        assert!(verdict(&history(), &findings).is_err());
        findings.reads.push(read(1, &[("a", Some("2"))]));
        assert!(verdict(&history(), &findings).is_ok_and(|v| v.passed));
        findings.reads.push(read(1, &[("a", Some("9"))]));
        assert!(verdict(&history(), &findings).is_ok_and(|v| !v.passed));
    }
}
