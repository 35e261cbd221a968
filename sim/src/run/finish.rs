//! The end of a run: the last incarnation's trace joins the lineage, and
//! every checker gives its verdict for the report.

use std::collections::BTreeMap;

use redoubt_core::env::ConnId;
use redoubt_core::persist::control::BGSAVE_RETRY_DELAY_MS;

use super::simulation::{NodeState, Simulation};
use crate::check::apps::check_apps;
use crate::check::enospc::{check_enospc, EnospcFacts};
use crate::check::integrity::{check_reply_integrity_runs, ConnectionLog, Incarnation};
use crate::check::linearizable;
use crate::check::liveness::{check_liveness, LivenessFacts, QuietFacts};
use crate::check::recovery::restart_verdicts;
use crate::check::replication::check_replication;
use crate::check::shutdown::check_shutdown;
use crate::check::work::{check_work, WorkFacts};
use crate::check::{absent_within, model_verdict, Verdict};
use crate::faults::ScheduledFault;
use crate::report::{FaultTally, Report};
use crate::workload::apps::AppStats;
use crate::workload::ops::OpKind;
use crate::workload::{ClientStats, Role};
use crate::world::disk::DiskFaultCounts;
use crate::world::hash::TraceHasher;
use crate::world::trace::TraceEvent;

impl Simulation {
    pub(super) fn finish(mut self) -> Report {
        let disk_counts = match &self.node {
            NodeState::Up { node, .. } => node.env().disk.counts().clone(),
            NodeState::Down(parked) => parked.disk.counts().clone(),
            NodeState::Gone => Default::default(),
        };
        let state = std::mem::replace(&mut self.node, NodeState::Gone);
        if let NodeState::Up { node, .. } = state {
            self.paths.values_written_in_steps += node.server().stats.snapshot_values_split;
            let mut env = node.into_env();
            self.end_incarnation_into_lineage(&mut env);
        }
        let final_state = self.model.data().clone();
        self.app_findings
            .check("the end of the run", &final_state, &self.app_acks, None);
        if self.options.apps.fallback_queue > 0 {
            self.app_findings.fallback_lost_at_end = self
                .app_findings
                .check_fallback_end(&final_state, &self.app_acks);
        }
        let mut hashes = self.trace_hashes.clone();
        // Only runs with replicas fold theirs, so other runs keep their
        // hashes.
        hashes.extend(self.other_trace_hashes());
        let trace_hash = match hashes.as_slice() {
            [only] if self.others.is_empty() => *only,
            hashes => {
                let mut hasher = TraceHasher::default();
                hashes.iter().for_each(|&hash| hasher.u64(hash));
                hasher.finish()
            }
        };
        let client_totals = self.client_totals();
        let count = |wanted: fn(&TraceEvent) -> bool| {
            self.traces
                .iter()
                .flatten()
                .filter(|r| wanted(&r.event))
                .count() as u64
        };
        let commands_executed = count(|e| matches!(e, TraceEvent::Executed { .. }));
        let expirations = count(|e| matches!(e, TraceEvent::Expired { .. }));
        let evictions = count(|e| matches!(e, TraceEvent::Evicted { .. }));
        let (verdicts, checkers_off) = self.verdicts(&client_totals);
        let faults = self.fault_tallies(&disk_counts);
        let required_checkers = self.options.expect.checkers.clone();
        let passed = verdicts
            .iter()
            .filter(|v| required_checkers.iter().any(|name| name == v.name))
            .all(|v| v.passed);
        let timeline = self
            .record_timeline
            .then(|| self.timeline(&verdicts, passed));
        Report {
            scenario_path: None,
            client_totals,
            start_ms: 0,
            end_ms: self.now_ms,
            events_processed: self.events_processed,
            commands_executed,
            expirations,
            evictions,
            connections: self.connections.len() as u64,
            verdicts,
            required_checkers,
            restarts: self.restarts,
            faults,
            checkers_off,
            paths: self.paths,
            replication_paths: (self.options.partitions_asked
                || self.options.replica_crashes_asked)
                .then(|| self.replication_paths.clone()),
            stopped_by: self.stopped_by,
            trace_hash,
            timeline,
            options: self.options,
        }
    }

    /// What the application clients did, summed.
    fn app_stats(&self) -> AppStats {
        let mut stats = AppStats::default();
        for slot in &self.clients {
            if let Role::App(app) = &slot.client.role {
                stats.add(app.stats());
            }
        }
        stats
    }

    fn client_totals(&self) -> ClientStats {
        let mut totals = ClientStats {
            ops_by_kind: vec![0; OpKind::ALL.len()],
            ..ClientStats::default()
        };
        for slot in &self.clients {
            let stats = &slot.client.stats;
            for (total, count) in totals.ops_by_kind.iter_mut().zip(&stats.ops_by_kind) {
                *total += count;
            }
            totals.requests_sent += stats.requests_sent;
            totals.replies_received += stats.replies_received;
            totals.error_replies += stats.error_replies;
            totals.transactions_committed += stats.transactions_committed;
            totals.transactions_retried += stats.transactions_retried;
            totals.transactions_given_up += stats.transactions_given_up;
            totals.transactions_discarded += stats.transactions_discarded;
            totals.reconnects += stats.reconnects;
            totals.timeouts += stats.timeouts;
        }
        totals
    }

    /// The faults that fired, by kind: the plan's scheduled faults and what
    /// the disk injected.
    fn fault_tallies(&self, disk: &DiskFaultCounts) -> Vec<FaultTally> {
        let mut tallies: BTreeMap<String, u64> = self
            .tallies
            .iter()
            .map(|(kind, count)| (kind.to_string(), *count))
            .collect();
        for (kind, count) in disk_tallies(disk) {
            *tallies.entry(kind.to_string()).or_default() += count;
        }
        tallies
            .into_iter()
            .filter(|(_, count)| *count > 0)
            .map(|(kind, count)| FaultTally { kind, count })
            .collect()
    }

    fn verdicts(&self, totals: &ClientStats) -> (Vec<Verdict>, Vec<(String, String)>) {
        let by_incarnation = self.connections_by_incarnation();
        let incarnations: Vec<Incarnation<'_>> = by_incarnation
            .iter()
            .zip(&self.traces)
            .map(|(connections, trace)| (connections, trace.as_slice()))
            .collect();
        let mut verdicts = vec![
            check_reply_integrity_runs(&incarnations),
            model_verdict(self.model.verdict()),
            check_work(&self.work_facts(totals)),
        ];
        let mut off: Vec<(String, String)> = Vec::new();
        // A node that refuses to start for good, after an fsync error no
        // process heard, cannot come back by itself: detection is what is
        // owed then, not liveness.
        let refused_for_good = self.unheard_fsync_errors > 0
            && self.restarts.last().is_some_and(|r| r.outcome.is_err());
        if refused_for_good {
            off.push((
                "liveness".into(),
                "the node refused to start for good after an fsync error no process heard".into(),
            ));
        } else {
            verdicts.insert(2, check_liveness(&self.liveness_facts()));
        }
        let durable_off = self.durability_off_reason();
        if let Some(reason) = &durable_off {
            off.push(("durable".into(), reason.clone()));
        }
        if self.restarts.is_empty() {
            for name in ["recovery", "prefix", "durable", "integrity"] {
                if durable_off.is_none() || name != "durable" {
                    off.push((name.into(), "the node never went down".into()));
                }
            }
        } else {
            // After an fsync error no process heard, a start may find the
            // damage and refuse, as after a lost fsync.
            let refusal = self.options.expect.start_refusal || self.unheard_fsync_errors > 0;
            let restarts = restart_verdicts(&self.restarts, refusal, durable_off.as_deref());
            verdicts.extend(
                restarts
                    .into_iter()
                    .filter(|v| v.name != "durable" || durable_off.is_none()),
            );
        }
        let app_stats = self.app_stats();
        if self.options.apps.total() > 0 || self.app_findings.datasets_checked > 0 {
            let finished = self
                .clients
                .iter()
                .filter(|slot| matches!(slot.client.role, Role::App(_)))
                .all(|slot| slot.client.finished());
            verdicts.push(check_apps(
                self.options.apps,
                &app_stats,
                &self.app_findings,
                finished,
            ));
        } else if self
            .options
            .expect
            .checkers
            .iter()
            .any(|name| name == "apps")
        {
            // Said only where asked for, so other reports keep their lines.
            off.push(("apps".into(), "no application ran".into()));
        }
        self.replication_verdict(&mut verdicts, &mut off);
        let failovers_planned = self
            .options
            .faults
            .schedule
            .iter()
            .any(|fault| matches!(fault, ScheduledFault::Failover { .. }));
        if failovers_planned || !self.failovers.is_empty() {
            verdicts.push(crate::check::failover::verdict(&self.failovers));
        }
        if self.options.apps.confirm > 0 {
            let separated = self.tallies.keys().any(|kind| {
                [
                    "crash",
                    "partition",
                    "replica_crash",
                    "failover",
                    "pause",
                    "shutdown",
                ]
                .iter()
                .any(|prefix| kind.starts_with(prefix))
            });
            verdicts.push(crate::check::confirm::verdict(
                &self.confirm_findings,
                app_stats.actions_committed,
                self.others.len(),
                separated,
            ));
        }
        if let Some(reader) = &self.reader {
            match crate::check::replica_reads::verdict(&reader.history, &reader.findings) {
                Ok(verdict) => verdicts.push(verdict),
                Err(why) => off.push(("replica_reads".into(), why)),
            }
        }
        match check_enospc(&self.enospc_facts()) {
            Some(verdict) => verdicts.push(verdict),
            None => off.push(("enospc".into(), "the disk never filled".into())),
        }
        let safety = self.config.appendonly || !self.config.save.is_empty();
        let replica_wait_ms = if self.others.is_empty() {
            0
        } else {
            self.config.shutdown_timeout_s * 1000
        };
        match check_shutdown(&self.shutdowns, safety, replica_wait_ms) {
            Some(verdict) => verdicts.push(verdict),
            None => off.push(("shutdown".into(), "no shutdown was asked".into())),
        }
        self.linearizable_verdict(&mut verdicts, &mut off);
        (verdicts, off)
    }

    /// Linearizability of what the clients saw, judged when no request
    /// reached a later life of the node. A restart after every client
    /// finished (the final crash) changes nothing any client saw; one
    /// before may lose what was acknowledged, which Redis allows by its
    /// fsync policy, and the durability checkers judge.
    fn linearizable_verdict(&self, verdicts: &mut Vec<Verdict>, off: &mut Vec<(String, String)>) {
        let after_restart = self
            .connections
            .iter()
            .any(|(&(incarnation, _), log)| incarnation > 0 && !log.requests.is_empty());
        if after_restart {
            off.push((
                "linearizable".into(),
                "the node restarted: Redis does not promise linearizability across a crash; the durability checkers judge it".into(),
            ));
            return;
        }
        let report = linearizable::check(&self.connections);
        if report.operations_checked == 0 {
            // Nothing it could hold to a plain key: no verdict, not a pass.
            off.push((
                "linearizable".into(),
                "no operation on a key it models".into(),
            ));
            return;
        }
        verdicts.push(report.verdict());
    }

    /// The replication verdict, for runs with replicas (and the reason it
    /// is off, where a scenario asks for it).
    fn replication_verdict(&self, verdicts: &mut Vec<Verdict>, off: &mut Vec<(String, String)>) {
        let asked = self
            .options
            .expect
            .checkers
            .iter()
            .any(|name| name == "replication");
        if self.others.is_empty() {
            // Said only where asked for, so other reports keep their lines.
            if asked {
                off.push(("replication".into(), "the run has no replicas".into()));
            }
            return;
        }
        match &self.replication {
            Some(end) => verdicts.push(check_replication(
                self.replication_before_final.as_ref(),
                end,
            )),
            None if !matches!(self.node, NodeState::Up { .. }) => off.push((
                "replication".into(),
                "the master ended the run down, unable to start".into(),
            )),
            None => verdicts.push(Verdict {
                name: "replication",
                passed: false,
                summary: "the run stopped before the replicas were judged".into(),
                violations: self.stopped_by.iter().cloned().collect(),
            }),
        }
    }

    fn connections_by_incarnation(&self) -> Vec<BTreeMap<ConnId, ConnectionLog>> {
        let mut by_incarnation: Vec<BTreeMap<ConnId, ConnectionLog>> =
            vec![BTreeMap::new(); self.traces.len()];
        for (&(incarnation, conn), log) in &self.connections {
            if let Some(connections) = by_incarnation.get_mut(incarnation) {
                connections.insert(conn, log.clone());
            }
        }
        by_incarnation
    }

    fn liveness_facts(&self) -> LivenessFacts {
        let counted = self.clients.iter().filter(|slot| slot.counted);
        let quiet = self.quiet_since_ms.map(|quiet_ms| {
            let from_ms = self.probe_from_ms.unwrap_or(quiet_ms);
            let until_ms = self.probe_acked_ms.unwrap_or(self.now_ms);
            QuietFacts {
                from_ms,
                probe_acked_ms: self.probe_acked_ms,
                bound_ms: self.options.faults.liveness_ms,
                absent_ms: absent_within(&self.absent, from_ms, until_ms),
            }
        });
        let refused_for_good = self.ended && matches!(self.node, NodeState::Down(_));
        LivenessFacts {
            clients: counted.clone().count(),
            clients_finished: counted
                .filter(|s| s.finished && (s.client.finished() || refused_for_good))
                .count(),
            requests_unanswered: self.requests_lost,
            requests_lost_to_crashes: self.requests_lost_to_crashes,
            stopped_by: self.stopped_by.clone(),
            quiet: if refused_for_good { None } else { quiet },
        }
    }

    fn work_facts(&self, totals: &ClientStats) -> WorkFacts {
        let replies_executed = self
            .traces
            .iter()
            .flatten()
            .filter(|r| {
                matches!(
                    &r.event,
                    TraceEvent::Executed {
                        in_transaction: false,
                        ..
                    }
                )
            })
            .count() as u64;
        WorkFacts {
            requests_sent: totals.requests_sent,
            replies: totals.replies_received,
            replies_executed: replies_executed.min(totals.replies_received),
            writes_acknowledged: self.writes_acknowledged,
        }
    }

    fn enospc_facts(&self) -> EnospcFacts<'_> {
        let misconf_refusals = self
            .traces
            .iter()
            .flatten()
            .filter(|r| {
                matches!(&r.event, TraceEvent::Rejected { reply, .. } if reply.starts_with(b"-MISCONF"))
            })
            .count() as u64;
        let disk = &self.options.faults.disk;
        EnospcFacts {
            episodes: &self.disk_fulls,
            misconf_refusals,
            // Two seconds and a tick for the AOF; a failed save stops
            // writes until the next save succeeds, and a failed save is
            // retried only after Redis's retry delay.
            resume_bound_ms: 2000
                + 1000 / self.options.node_hz.max(1)
                + if self.config.save.is_empty() {
                    0
                } else {
                    BGSAVE_RETRY_DELAY_MS
                },
            other_write_faults: disk.write_error_ppm > 0
                || disk.short_write_ppm > 0
                || disk.metadata_error_ppm > 0
                || disk.fsync_error_ppm > 0,
            quiet_since_ms: self.quiet_since_ms,
            absent: &self.absent,
        }
    }
}

/// The disk's fault counts as tallies by kind.
fn disk_tallies(counts: &DiskFaultCounts) -> Vec<(&'static str, u64)> {
    vec![
        ("disk_write_error", counts.write_errors),
        ("disk_short_write", counts.short_writes),
        ("disk_enospc", counts.enospc_writes),
        ("disk_fsync_error", counts.fsync_errors),
        ("disk_fsync_lost", counts.fsyncs_lost),
        ("disk_read_error", counts.read_errors),
        ("disk_metadata_error", counts.metadata_errors),
        ("disk_misdirected_write", counts.misdirected_writes),
        ("disk_bit_flip", counts.bit_flips),
        ("disk_slow_op", counts.slow_ops),
        ("sector_kept", counts.sectors_kept),
        ("sector_dropped", counts.sectors_dropped),
        ("sector_zeroed", counts.sectors_zeroed),
        ("sector_garbage", counts.sectors_garbage),
        ("dir_entry_lost", counts.entries_lost),
    ]
}
