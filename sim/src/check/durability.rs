//! The durability checkers, judged at every restart (DESIGN.md §4).
//!
//! Words the report uses:
//! * a **unit** is one entry of the write log L: a top-level command (or a
//!   whole MULTI/EXEC) that changed the dataset, with the changes it made,
//!   when its reply left the node, and what the node promised about it at
//!   that moment (its [`Promise`]: the `appendfsync` policy in force, or
//!   the AOF off);
//! * the **lineage** is L as the node's data descends from it: the units of
//!   every life of the node, each restart keeping the units it recovered
//!   and dropping the ones it lost;
//! * **k** is the length of the prefix of the lineage the recovered dataset
//!   equals (transactions whole, since units are). The search starts from
//!   the model's state at the crash and undoes units from the end, keeping
//!   the set of keys that still differ, so it costs the size of the changes,
//!   not units × keys. The largest such k is taken;
//! * a unit is **owed** when the crash must not lose it: its reply left,
//!   and
//!   * after a process crash, the AOF was on (a reply never leaves before
//!     its write reached the file, and the page cache survives);
//!   * after power loss, its promise was `always`, or `everysec` and its
//!     reply left more than [`EVERYSEC_WINDOW_MS`] before the crash with two
//!     seconds of a healthy node and disk after it: no disk error reported
//!     to the node, no background fsync in flight for over a second, no
//!     pause, stall or downtime in `[release, release + window]`. The
//!     disk "reported no error" means exactly that;
//!   * after a clean exit (SHUTDOWN or SIGTERM) that made every write safe
//!     (the AOF fsynced up to its last byte, or a dump saved with nothing
//!     changed since), every unit whose reply left is owed, whatever
//!     happened to the disk afterwards.
//!
//!   `appendfsync no` after power loss, and RDB-only persistence, owe only
//!   prefix, and so does a unit that ran while the AOF was switched off
//!   (CONFIG SET appendonly), whatever promise its reply left under.
//!
//! Comparisons use what a client could observe at the restart's wall time:
//! a key whose expiry has passed counts as absent on either side.

use std::collections::{BTreeMap, BTreeSet};

use redoubt_core::env::ConnId;

use crate::check::model::value::{short, Data};
use crate::check::model::{Change, Dataset, DbKey, Entry, Model};
use crate::check::replica_reads::KeyHistory;
use crate::world::hash::TraceHasher;
use crate::world::trace::{TraceEvent, TraceRecord};

/// How long before a crash an `everysec` acknowledgement must have left to
/// be owed durability (Redis's promise: at most two seconds lost).
pub const EVERYSEC_WINDOW_MS: u64 = 2000;

/// What the node promised about a write when its reply left.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Promise {
    /// The write is fsynced (`appendfsync always`).
    Always,
    /// Fsynced within about a second (`everysec`).
    EverySec,
    /// Written to the file; the kernel decides when it is durable.
    No,
    /// The AOF was off: only the next snapshot holds it.
    #[default]
    AofOff,
}

impl Promise {
    pub fn name(self) -> &'static str {
        match self {
            Promise::Always => "always",
            Promise::EverySec => "everysec",
            Promise::No => "no",
            Promise::AofOff => "aof_off",
        }
    }
}

/// One unit of the write log: a top-level command (or a whole MULTI/EXEC)
/// that changed the dataset, with the keys its run found expired (their
/// removal is propagated with it, so its reply waits for them too); or one
/// key removed by active expiry, which no reply waits for.
#[derive(Debug, Clone, Default)]
pub struct WriteUnit {
    pub changes: Vec<Change>,
    /// The connection that ran the command and the offset in that
    /// connection's reply stream where the command's reply ends; `None`
    /// for changes no command owns (an expiry after the last command).
    pub reply_end: Option<(ConnId, u64)>,
    /// Simulated ms at which the reply left the node, if it did.
    pub released_at_ms: Option<u64>,
    pub promise: Promise,
    /// The AOF was off at some point while the unit's commands ran (CONFIG
    /// SET appendonly): nothing was appended for it, so whatever its reply
    /// went out under, it is promised no more than with the AOF off.
    pub aof_off_when_run: bool,
    /// The life of the node that ran it (0 for the first).
    pub incarnation: usize,
    /// What a later WAIT or WAITAOF on its connection confirmed about it,
    /// once that reply left the node.
    pub confirmed: Confirmation,
}

/// What WAIT and WAITAOF replies confirmed about a write: a reply
/// confirms every write its connection made before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confirmation {
    /// Replicas that acknowledged it (WAIT's count, or WAITAOF's second):
    /// it survives the loss of that many nodes, given a failover to the
    /// replica furthest ahead.
    pub replicas: u64,
    /// When the reply that confirmed `replicas` left the node.
    pub replicas_at_ms: u64,
    /// WAITAOF counted the local AOF: it was fsynced, whatever the policy.
    pub local_fsync: bool,
}

/// A WAIT or WAITAOF a connection ran: where its reply ends, and what it
/// confirmed.
#[derive(Debug, Clone, Copy)]
pub struct WaitReply {
    pub conn: ConnId,
    pub reply_end: u64,
    pub replicas: u64,
    pub local_fsync: bool,
}

/// A reply stream's releases: (simulated ms, bytes sent so far, the
/// promise in force), one entry per send.
pub type Releases = [(u64, u64, Promise)];

/// Builds write units from an incarnation's trace.
pub struct UnitBuilder<'a> {
    pub model: &'a mut Model,
    /// Hashes of every (key, value) any unit produced: the integrity
    /// checker's memory of what clients wrote.
    pub written: &'a mut WrittenValues,
    pub incarnation: usize,
    /// Whether the AOF was on when the incarnation's trace begins.
    pub aof_on: bool,
    /// Where each unit's new state is recorded, in runs that read from a
    /// replica.
    pub history: Option<&'a mut KeyHistory>,
}

impl UnitBuilder<'_> {
    /// Feeds `trace` through the model and groups what changed into units;
    /// also the WAIT and WAITAOF replies that confirm them.
    pub fn units(&mut self, trace: &[TraceRecord]) -> (Vec<WriteUnit>, Vec<WaitReply>) {
        let mut units = Vec::new();
        let mut waits = Vec::new();
        let mut reply_bytes: BTreeMap<ConnId, u64> = BTreeMap::new();
        let mut aof_on = self.aof_on;
        // The AOF was off at some point since the current unit began.
        let mut off_in_unit = !aof_on;
        // The connection whose command found the keys expired that the
        // current unit holds so far, if any.
        let mut expired_by: Option<ConnId> = None;
        for record in trace {
            // A command that found a key expired and then blocked is traced
            // when it is served, later: the deletion it propagated is no
            // part of the next command's unit, and no reply waits for it
            // until then. It is a unit of its own, owed to no reply.
            let conn_of_record = match &record.event {
                TraceEvent::Executed { conn, .. } | TraceEvent::Rejected { conn, .. } => {
                    Some(*conn)
                }
                _ => None,
            };
            if let (Some(by), Some(conn)) = (expired_by, conn_of_record) {
                if by != conn {
                    let before = self.model.take_changes();
                    if !before.is_empty() {
                        units.push(self.unit(before, None, off_in_unit));
                    }
                    expired_by = None;
                }
            }
            if let TraceEvent::Expired {
                conn: Some(conn), ..
            } = record.event
            {
                expired_by = Some(conn);
            }
            if let TraceEvent::Expired { conn: None, .. } | TraceEvent::Evicted { .. } =
                record.event
            {
                // Active expiry, and eviction: its own unit, which no
                // reply waits for.
                let before = self.model.take_changes();
                if !before.is_empty() {
                    units.push(self.unit(before, None, off_in_unit));
                }
                self.model.apply(record);
                let expiry = self.model.take_changes();
                if !expiry.is_empty() {
                    units.push(self.unit(expiry, None, !aof_on));
                }
                continue;
            }
            self.model.apply(record);
            if let Some(on) = appendonly_switch(&record.event) {
                aof_on = on;
                off_in_unit |= !on;
            }
            match &record.event {
                TraceEvent::Executed {
                    conn,
                    reply,
                    in_transaction: false,
                    ..
                } => {
                    let sent = reply_bytes.entry(*conn).or_default();
                    *sent += reply.len() as u64;
                    if let Some((replicas, local_fsync)) = wait_confirmation(record) {
                        waits.push(WaitReply {
                            conn: *conn,
                            reply_end: *sent,
                            replicas,
                            local_fsync,
                        });
                    }
                    let changes = self.model.take_changes();
                    if !changes.is_empty() {
                        let reply_end = Some((*conn, *sent));
                        units.push(self.unit(changes, reply_end, off_in_unit));
                    }
                    expired_by = None;
                    off_in_unit = !aof_on;
                }
                TraceEvent::Rejected { conn, reply, .. } => {
                    *reply_bytes.entry(*conn).or_default() += reply.len() as u64;
                }
                _ => {}
            }
        }
        let rest = self.model.take_changes();
        if !rest.is_empty() {
            units.push(self.unit(rest, None, off_in_unit));
        }
        (units, waits)
    }

    fn unit(
        &mut self,
        changes: Vec<Change>,
        reply_end: Option<(ConnId, u64)>,
        aof_off_when_run: bool,
    ) -> WriteUnit {
        for change in &changes {
            let after = self.model.data().get(&change.key.0);
            if let Some(entry) = after.and_then(|keys| keys.get(&change.key.1)) {
                self.written.insert(&change.key, &entry.value);
            }
        }
        if let Some(history) = self.history.as_deref_mut() {
            history.unit(changes.iter().map(|change| &change.key), self.model.data());
        }
        WriteUnit {
            changes,
            reply_end,
            released_at_ms: None,
            promise: Promise::AofOff,
            aof_off_when_run,
            incarnation: self.incarnation,
            confirmed: Confirmation::default(),
        }
    }
}

/// What a top-level WAIT (`:n`) or WAITAOF (`*2 :local :replicas`) reply
/// confirms: (replicas, local fsync).
fn wait_confirmation(record: &TraceRecord) -> Option<(u64, bool)> {
    let TraceEvent::Executed { argv, reply, .. } = &record.event else {
        return None;
    };
    let name = argv.first()?;
    let integer = |bytes: &[u8]| -> Option<u64> {
        let text = std::str::from_utf8(bytes.strip_prefix(b":")?).ok()?;
        text.trim_end_matches("\r\n").parse().ok()
    };
    if name.eq_ignore_ascii_case(b"WAIT") {
        return Some((integer(reply)?, false));
    }
    if !name.eq_ignore_ascii_case(b"WAITAOF") {
        return None;
    }
    let body = reply.strip_prefix(b"*2\r\n")?;
    let split = body.iter().position(|&b| b == b'\n')? + 1;
    let local = integer(&body[..split])?;
    let replicas = integer(&body[split..])?;
    Some((replicas, local > 0))
}

/// Gives each unit what the WAIT and WAITAOF replies after it on its
/// connection confirmed, counting only replies that left the node.
pub fn mark_confirmations<'a>(
    units: &mut [WriteUnit],
    waits: &[WaitReply],
    releases: impl Fn(ConnId) -> Option<&'a Releases>,
) {
    let mut by_conn: BTreeMap<ConnId, Vec<(u64, u64, u64, bool)>> = BTreeMap::new();
    for wait in waits {
        let Some(sent) = releases(wait.conn) else {
            continue;
        };
        let at = sent.partition_point(|&(_, bytes, _)| bytes < wait.reply_end);
        if let Some(&(at_ms, _, _)) = sent.get(at) {
            let entry = (wait.reply_end, wait.replicas, at_ms, wait.local_fsync);
            by_conn.entry(wait.conn).or_default().push(entry);
        }
    }
    for unit in units {
        let (Some((conn, end)), Some(_)) = (unit.reply_end, unit.released_at_ms) else {
            continue;
        };
        let Some(waits) = by_conn.get(&conn) else {
            continue;
        };
        let later = waits.partition_point(|&(wait_end, ..)| wait_end <= end);
        for &(_, replicas, at_ms, local_fsync) in &waits[later..] {
            let confirmed = &mut unit.confirmed;
            confirmed.local_fsync |= local_fsync;
            if replicas > confirmed.replicas {
                confirmed.replicas = replicas;
                confirmed.replicas_at_ms = at_ms;
            }
        }
    }
}

/// The AOF state a traced `CONFIG SET ... appendonly yes|no ...` that
/// succeeded switched to.
fn appendonly_switch(event: &TraceEvent) -> Option<bool> {
    let TraceEvent::Executed { argv, reply, .. } = event else {
        return None;
    };
    let [config, set, pairs @ ..] = argv.as_slice() else {
        return None;
    };
    if !config.eq_ignore_ascii_case(b"CONFIG")
        || !set.eq_ignore_ascii_case(b"SET")
        || reply.as_slice() != b"+OK\r\n"
    {
        return None;
    }
    pairs
        .chunks_exact(2)
        .rev()
        .find(|pair| pair[0].eq_ignore_ascii_case(b"appendonly"))
        .map(|pair| pair[1].eq_ignore_ascii_case(b"yes"))
}

/// Sets each unit's release time and promise from what its connection was
/// sent.
pub fn mark_releases<'a>(
    units: &mut [WriteUnit],
    releases: impl Fn(ConnId) -> Option<&'a Releases>,
) {
    for unit in units {
        let Some((conn, end)) = unit.reply_end else {
            continue;
        };
        let Some(sent) = releases(conn) else {
            continue;
        };
        let at = sent.partition_point(|&(_, bytes, _)| bytes < end);
        if let Some(&(at_ms, _, promise)) = sent.get(at) {
            unit.released_at_ms = Some(at_ms);
            unit.promise = if unit.aof_off_when_run {
                Promise::AofOff
            } else {
                promise
            };
        }
    }
}

/// Every (key, value) a client's write produced, hashed.
#[derive(Debug, Default, Clone)]
pub struct WrittenValues {
    hashes: BTreeSet<(usize, u64)>,
}

impl WrittenValues {
    fn hash(key: &DbKey, value: &Data) -> u64 {
        let mut hasher = TraceHasher::default();
        hasher.bytes(&key.1);
        value.hash_into(&mut hasher);
        hasher.finish()
    }

    pub fn insert(&mut self, key: &DbKey, value: &Data) {
        self.hashes.insert((key.0, Self::hash(key, value)));
    }

    pub fn contains(&self, key: &DbKey, value: &Data) -> bool {
        self.hashes.contains(&(key.0, Self::hash(key, value)))
    }

    /// Recovered keys holding a value no client ever wrote to them.
    pub fn invented(&self, recovered: &Dataset) -> Vec<DbKey> {
        let mut invented = Vec::new();
        for (&db, keys) in recovered {
            for (key, entry) in keys {
                let db_key = (db, key.clone());
                if !self.contains(&db_key, &entry.value) {
                    invented.push(db_key);
                }
            }
        }
        invented
    }
}

/// Stretches of simulated time in which the node could not be expected to
/// make writes durable: disk errors it was told of, slow fsyncs, pauses,
/// stalls, downtime. Kept sorted by start.
#[derive(Debug, Default, Clone)]
pub struct Trouble {
    windows: Vec<(u64, u64)>,
}

impl Trouble {
    /// Records trouble over `[start_ms, end_ms]`.
    pub fn add(&mut self, start_ms: u64, end_ms: u64) {
        let at = self
            .windows
            .partition_point(|&(start, _)| start <= start_ms);
        self.windows.insert(at, (start_ms, end_ms.max(start_ms)));
    }

    /// Whether any trouble touches `[start_ms, end_ms]`.
    pub fn touches(&self, start_ms: u64, end_ms: u64) -> bool {
        let before_end = self.windows.partition_point(|&(start, _)| start <= end_ms);
        self.windows[..before_end]
            .iter()
            .any(|&(_, end)| end >= start_ms)
    }
}

/// How a life of the node ended, as the durability rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub at_ms: u64,
    /// What the disk kept: everything written (process crash, or a clean
    /// exit the machine survived) or only what was durable (power loss).
    pub power_loss: bool,
    /// The node exited cleanly with every write made safe first.
    pub exit_made_safe: bool,
    /// The `everysec` window, stretched by the node's clock drift.
    pub window_ms: u64,
    /// Not a restart: an operator promoted a replica. What survives is
    /// what the replicas confirmed, not what the disk kept.
    pub failover: Option<FailoverLoss>,
}

/// What a failover lost besides the master: the nodes lost earlier, at
/// these simulated ms (replicas that crashed, masters an earlier failover
/// replaced). A write confirmed by n replicas survives the loss of the
/// master and n - 1 more nodes when the operator promotes the replica
/// furthest ahead.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailoverLoss {
    pub nodes_lost_ms: Vec<u64>,
    /// A switchover whose master exited cleanly before its
    /// `shutdown-timeout` was up, promoting a replica that was linked to
    /// it then: Redis 7's shutdown waited for that replica to acknowledge
    /// every write, so every acknowledged write is owed.
    pub switchover_in_sync: bool,
}

impl FailoverLoss {
    /// Nodes lost since `at_ms`, the master included.
    fn nodes_lost_since(&self, at_ms: u64) -> u64 {
        1 + self
            .nodes_lost_ms
            .iter()
            .filter(|&&down| down >= at_ms)
            .count() as u64
    }
}

impl Ending {
    /// Whether `unit` must survive this ending.
    pub fn owes(&self, unit: &WriteUnit, trouble: &Trouble) -> bool {
        let Some(released) = unit.released_at_ms else {
            return false;
        };
        if let Some(loss) = &self.failover {
            if loss.switchover_in_sync {
                return true;
            }
            let confirmed = &unit.confirmed;
            return confirmed.replicas > 0
                && confirmed.replicas >= loss.nodes_lost_since(confirmed.replicas_at_ms);
        }
        if self.exit_made_safe {
            return true;
        }
        if unit.confirmed.local_fsync && !unit.aof_off_when_run {
            // WAITAOF counted the local AOF: fsynced, whatever the policy.
            return true;
        }
        if !self.power_loss {
            return unit.promise != Promise::AofOff;
        }
        match unit.promise {
            Promise::Always => true,
            Promise::EverySec => {
                let deadline = released.saturating_add(self.window_ms);
                deadline < self.at_ms && !trouble.touches(released, deadline)
            }
            Promise::No | Promise::AofOff => false,
        }
    }

    /// The name of the rule, for reports.
    pub fn rule_name(&self) -> &'static str {
        if let Some(loss) = &self.failover {
            if loss.switchover_in_sync {
                return "switchover_in_sync";
            }
            return "confirmed_by_replicas";
        }
        match (self.exit_made_safe, self.power_loss) {
            (true, _) => "clean_exit",
            (false, false) => "written",
            (false, true) => "per_policy",
        }
    }
}

/// The smallest prefix length of `units` that holds every unit `ending`
/// owes.
pub fn required_prefix(units: &[WriteUnit], ending: &Ending, trouble: &Trouble) -> usize {
    units
        .iter()
        .rposition(|unit| ending.owes(unit, trouble))
        .map_or(0, |index| index + 1)
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

/// The largest k such that `units[..k]` applied to the lineage's starting
/// state gives `recovered`, as observed at `wall_ms`; `final_state` is the
/// state after all units. `None` if no prefix matches.
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
        }) => value.show(),
        Some(Entry {
            value,
            expire_at_ms: Some(at),
        }) => format!("{} expiring at {at}", value.show()),
    }
}

/// The verdict of the durability promise at one restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableCheck {
    pub rule: &'static str,
    /// Units that had to be in the recovered prefix.
    pub required: usize,
    pub passed: bool,
    /// On failure: the last owed unit, described for the report.
    pub lost: Option<String>,
}

/// What the checkers found at one restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryCheck {
    /// Units in the lineage before the restart.
    pub units: usize,
    /// Units the recovered dataset holds, if it is a prefix at all.
    pub prefix: Option<usize>,
    /// When no prefix matches: the closest one and how it differs.
    pub mismatch: Option<String>,
    /// `None` when the run does not check durability.
    pub durable: Option<DurableCheck>,
    /// Recovered keys holding a value no client wrote (integrity).
    pub invented: Vec<String>,
}

impl RecoveryCheck {
    pub fn passed(&self) -> bool {
        self.prefix.is_some()
            && self.invented.is_empty()
            && self.durable.as_ref().is_none_or(|d| d.passed)
    }
}

/// The inputs of one judgement: the lineage, what the model holds at its
/// end, and what the node recovered.
pub struct Judgement<'a> {
    pub final_state: &'a Dataset,
    pub units: &'a [WriteUnit],
    pub recovered: &'a Dataset,
    pub wall_ms: i64,
    pub written: &'a WrittenValues,
}

impl Judgement<'_> {
    /// Judges the recovered dataset; `ending` is `None` when the run does
    /// not check durability.
    pub fn judge(&self, ending: Option<(&Ending, &Trouble)>) -> RecoveryCheck {
        let search = search_prefix(self.final_state, self.units, self.recovered, self.wall_ms);
        let prefix = search.found;
        let mismatch = prefix.is_none().then(|| describe_mismatch(&search.closest));
        let durable = ending.map(|(ending, trouble)| {
            let required = required_prefix(self.units, ending, trouble);
            // With no prefix there is nothing to hold the owed units: a
            // failure whenever some were owed (prefix reports the mismatch).
            let passed = prefix.map_or(required == 0, |k| k >= required);
            DurableCheck {
                rule: ending.rule_name(),
                required,
                passed,
                lost: (!passed).then(|| describe(&self.units[required - 1], required)),
            }
        });
        let invented = self
            .written
            .invented(self.recovered)
            .iter()
            .take(DIFFERENCES_SHOWN_MAX)
            .map(|(db, key)| format!("db{db}:{}", short(key)))
            .collect();
        RecoveryCheck {
            units: self.units.len(),
            prefix,
            mismatch,
            durable,
            invented,
        }
    }
}

fn describe_mismatch((k, keys): &(usize, Vec<Difference>)) -> String {
    let shown: Vec<String> = keys
        .iter()
        .map(|(key, seen, model)| {
            format!(
                "db{}:{} recovered {} but the model has {}",
                key.0,
                short(&key.1),
                show_entry(seen),
                show_entry(model)
            )
        })
        .collect();
    format!("closest is k = {k}: {}", shown.join("; "))
}

/// One unit, as a violation names it.
fn describe(unit: &WriteUnit, number: usize) -> String {
    let keys: Vec<String> = unit
        .changes
        .iter()
        .take(DIFFERENCES_SHOWN_MAX)
        .map(|c| format!("db{}:{}", c.key.0, short(&c.key.1)))
        .collect();
    let conn = unit.reply_end.map_or(0, |(conn, _)| conn);
    format!(
        "unit {number} (life {}, conn {conn}, keys {}, {} reply left at {} ms)",
        unit.incarnation + 1,
        keys.join(" "),
        unit.promise.name(),
        unit.released_at_ms.unwrap_or_default()
    )
}

#[cfg(test)]
mod tests;
