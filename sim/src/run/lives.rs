//! The node's lives and the faults that end, pause or bend them: crashes
//! (also between two disk calls of an iteration), pauses and stalls, clock
//! jumps, full disks, shutdowns by signal or command, bit flips at rest,
//! partitions between nodes (started here, acting in [`super::nodes`]),
//! restarts (retried when the node refuses to start), the quiet phase and
//! the final crash.

use std::collections::BTreeSet;
use std::io;

use redoubt_core::db::Value;
use redoubt_core::env::{Clock, DiskOpId};
use redoubt_core::persist::job::JOB_OP_BIT;
use redoubt_core::server::ShutdownReason;
use redoubt_core::shutdown::ShutdownStart;
use redoubt_core::Node;

use super::simulation::{
    DiskFullRecord, Event, NodeState, ShutdownProgress, ShutdownRecord, Simulation,
};
use crate::check::durability::{
    mark_confirmations, mark_releases, Ending, Judgement, RecoveryCheck, UnitBuilder,
    EVERYSEC_WINDOW_MS,
};
use crate::check::model::value::{Data, Score};
use crate::check::model::{Dataset, Entry};
use crate::check::recovery::{DownCause, Recovered, RestartReport};
use crate::faults::{CrashKind, FinalKind, ScheduledFault, ShutdownHow};
use crate::workload::Role;
use crate::world::clock::SimClock;
use crate::world::disk::{
    CrashKind as DiskCrash, DiskFaults, DiskOptions, PowerLossModel, SimDisk,
};
use crate::world::env::SimEnv;
use crate::world::rng::{stream, SimRng};
use crate::world::trace::TraceRecord;

/// A crash armed between disk calls happens anyway after this long.
const DEATH_DEADLINE_MS: u64 = 200;
/// Between SIGTERMs to a node that refused to shut down.
const SHUTDOWN_RETRY_MS: u64 = 1000;
/// After this long, a node that will not shut down gets SIGKILL.
pub const SHUTDOWN_GRACE_MS: u64 = 10_000;
/// Between start attempts of a node that refused to start.
const START_RETRY_MS: u64 = 1000;
/// Start attempts after one going down, at most.
const START_ATTEMPTS_MAX: usize = 30;
/// Start attempts in the quiet phase before a refusal counts as final.
const QUIET_START_ATTEMPTS: usize = 2;
/// Quiet time between the last client finishing and the final crash, so
/// that `everysec` owes every write.
const FINAL_CRASH_DELAY_MS: u64 = 3000;
/// Between looks at the replicas, while the final crash waits for them
/// to catch up.
const FINAL_REPLICA_WAIT_MS: u64 = 10;
/// Restart delay after the final crash.
const FINAL_RESTART_DELAY_MS: u64 = 100;
/// Restart delay after a SHUTDOWN a client sent.
const COMMAND_SHUTDOWN_RESTART_MS: u64 = 200;

/// A node that went down and waits for its restart.
pub struct Parked {
    pub disk: SimDisk,
    pub restart_at_ms: u64,
    pub down_at_ms: u64,
    pub cause: DownCause,
    /// What the durability rules apply to this ending.
    pub ending: Ending,
    /// Why earlier start attempts failed.
    pub refusals: Vec<String>,
    pub attempts_in_quiet: usize,
    pub is_final: bool,
}

impl Simulation {
    /// The node's clock as it reads now: wall time follows simulated time
    /// with the plan's drift and every jump so far, whether the node is up.
    pub(super) fn world_clock(&self) -> SimClock {
        let mut clock = SimClock::new(self.options.wall_offset_ms as i64);
        clock.drift_parts_per_million = self.options.faults.drift_ppm;
        clock.jump_wall_ms(self.wall_jump_ms);
        clock.advance_to(self.now_ms);
        clock
    }

    /// Wall time on the node's clock now.
    pub(super) fn world_wall_ms(&self) -> i64 {
        use redoubt_core::env::Clock;
        self.world_clock().wall_ms()
    }

    /// Sets the plan's per-call disk faults on the node's disk.
    pub(super) fn apply_disk_profile(&mut self) {
        let faults = disk_faults(&self.options.faults.disk);
        self.disk_mut().set_faults(faults);
    }

    /// Durability is checked unless the plan may lose data silently, which
    /// no single node can survive. Returns the reason when it is off.
    pub(super) fn durability_off_reason(&self) -> Option<String> {
        if self.unheard_fsync_errors > 0 {
            return Some(
                "an fsync error reached no process (the node stalled, then died, before it heard): a lost fsync in effect, prefix and integrity only".into(),
            );
        }
        let plan = &self.options.faults;
        if plan.disk.fsync_lost_ppm > 0 {
            return Some("lost fsyncs on a single node: prefix and integrity only".into());
        }
        if plan.disk.misdirected_write_ppm > 0 {
            return Some("misdirected writes on a single node: prefix and integrity only".into());
        }
        let flips = plan
            .schedule
            .iter()
            .any(|f| matches!(f, ScheduledFault::BitFlip { .. }));
        flips.then(|| "bit flips at rest: detection is checked, not durability".into())
    }

    /// The plan's fault at `index` fires, if it can.
    pub(super) fn fault(&mut self, index: usize) {
        let fault = self.options.faults.schedule[index].clone();
        let up = matches!(self.node, NodeState::Up { .. });
        let fired = match fault.clone() {
            ScheduledFault::Crash {
                kind,
                restart_delay_ms,
                after_disk_calls,
                ..
            } => up && self.crash_or_arm(kind, restart_delay_ms, after_disk_calls),
            ScheduledFault::Pause { duration_ms, .. } => {
                up && {
                    self.pause_for(duration_ms);
                    true
                }
            }
            ScheduledFault::ClockJump { delta_ms, .. } => {
                self.wall_high_ms = self.wall_high_ms.max(self.world_wall_ms());
                self.wall_jump_ms += delta_ms;
                if let NodeState::Up { node, .. } = &mut self.node {
                    node.env_mut().clock.jump_wall_ms(delta_ms);
                }
                true
            }
            ScheduledFault::DiskFull {
                duration_ms,
                free_bytes,
                ..
            } => self.fill_disk(duration_ms, free_bytes),
            ScheduledFault::Shutdown {
                how,
                restart_delay_ms,
                power_loss,
                ..
            } => up && self.begin_shutdown(how, restart_delay_ms, power_loss, false),
            ScheduledFault::BitFlip {
                in_file,
                while_down,
                ..
            } if while_down && up => {
                self.flips_waiting.push(in_file);
                false
            }
            ScheduledFault::BitFlip { in_file, .. } => {
                self.disk_mut().flip_bit_at_rest(&in_file).is_some()
            }
            ScheduledFault::Partition {
                duration_ms,
                replica,
                mode,
                held,
                ..
            } => self.start_partition(replica, duration_ms, mode, held),
            ScheduledFault::ReplicaCrash {
                replica,
                kind,
                restart_delay_ms,
                ..
            } => self.crash_replica(replica, kind, restart_delay_ms),
            ScheduledFault::Failover {
                trigger,
                kind,
                detect_ms,
                back_after_ms,
                ..
            } => self.start_failover(trigger, kind, detect_ms, back_after_ms),
        };
        if fired {
            *self.tallies.entry(fault.kind_name()).or_default() += 1;
            self.fired
                .push((self.now_ms, fault.kind_name().to_string()));
        }
    }

    fn crash_or_arm(&mut self, kind: CrashKind, restart_delay_ms: u64, calls: Option<u64>) -> bool {
        if self.death.is_some() || self.shutdown.is_some() {
            return false;
        }
        let Some(calls) = calls else {
            self.crash_node(kind, restart_delay_ms, DownCause::Crash(kind), false);
            return true;
        };
        self.deaths_armed += 1;
        let armed = self.deaths_armed;
        self.death = Some((armed, kind, restart_delay_ms));
        self.disk_mut().die_after_calls(calls);
        self.schedule(
            self.now_ms + DEATH_DEADLINE_MS,
            Event::DeathDeadline { armed },
        );
        self.after_node_event();
        true
    }

    /// The process died between two disk calls (the disk says so).
    pub(super) fn die_between_disk_calls(&mut self) {
        let Some((_, kind, delay)) = self.death.take() else {
            // Dead without an armed crash cannot happen; crash anyway.
            self.crash_node(
                CrashKind::Process,
                0,
                DownCause::Crash(CrashKind::Process),
                false,
            );
            return;
        };
        self.paths.crashes_between_disk_calls += 1;
        self.crash_node(kind, delay, DownCause::CrashBetweenDiskCalls(kind), false);
    }

    pub(super) fn death_deadline(&mut self, armed: u64) {
        match self.death {
            Some((id, kind, delay)) if id == armed => {
                self.death = None;
                self.crash_node(kind, delay, DownCause::Crash(kind), false);
            }
            _ => {}
        }
    }

    /// The node crashes: its incarnation's trace joins the lineage, the
    /// disk keeps what `kind` keeps, and every connection closes.
    pub(super) fn crash_node(
        &mut self,
        kind: CrashKind,
        restart_delay_ms: u64,
        cause: DownCause,
        is_final: bool,
    ) {
        let ending = self.ending(kind == CrashKind::PowerLoss, false);
        self.take_node_down(Some(kind), ending, restart_delay_ms, cause, is_final);
    }

    fn ending(&self, power_loss: bool, exit_made_safe: bool) -> Ending {
        let drift = self.options.faults.drift_ppm.unsigned_abs();
        let window_ms = EVERYSEC_WINDOW_MS + EVERYSEC_WINDOW_MS * drift / 1_000_000 + 1;
        Ending {
            at_ms: self.now_ms,
            power_loss,
            exit_made_safe,
            window_ms,
            failover: None,
        }
    }

    fn take_node_down(
        &mut self,
        disk_crash: Option<CrashKind>,
        ending: Ending,
        restart_delay_ms: u64,
        cause: DownCause,
        is_final: bool,
    ) {
        let state = std::mem::replace(&mut self.node, NodeState::Gone);
        let NodeState::Up { node, .. } = state else {
            self.node = state;
            return;
        };
        if let Some(since) = self.fsync_error_since_ms.take() {
            self.trouble.add(since, self.now_ms);
        }
        let unheard = self
            .deferred_disk
            .iter()
            .filter(|(op, result)| op & JOB_OP_BIT == 0 && result.is_err())
            .count();
        self.unheard_fsync_errors += unheard as u64;
        if disk_crash.is_some() {
            self.count_interrupted_jobs(&node);
        }
        self.master_history = node.server().repl.replid.clone();
        self.paths.values_written_in_steps += node.server().stats.snapshot_values_split;
        let mut env = node.into_env();
        self.end_incarnation_into_lineage(&mut env);
        env.disk.crash(DiskCrash::Process);
        if disk_crash == Some(CrashKind::PowerLoss) || ending.power_loss {
            env.disk.crash(DiskCrash::PowerLoss);
        }
        if disk_crash == Some(CrashKind::PowerLoss) {
            self.lose_peer_traffic_of(0);
        }
        self.close_connections_of_node();
        self.forget_node_schedule();
        for in_file in std::mem::take(&mut self.flips_waiting) {
            if env.disk.flip_bit_at_rest(&in_file).is_some() {
                *self.tallies.entry("bit_flip").or_default() += 1;
                self.fired.push((self.now_ms, "bit_flip".to_string()));
            }
        }
        self.death = None;
        self.shutdown = None;
        let restart_at_ms = self.now_ms + restart_delay_ms;
        self.trouble.add(self.now_ms, restart_at_ms);
        self.absent.push((self.now_ms, restart_at_ms));
        self.node = NodeState::Down(Box::new(Parked {
            disk: env.disk,
            restart_at_ms,
            down_at_ms: self.now_ms,
            cause,
            ending,
            refusals: Vec::new(),
            attempts_in_quiet: 0,
            is_final,
        }));
        self.schedule(restart_at_ms, Event::Restart);
    }

    fn count_interrupted_jobs(&mut self, node: &Node<SimEnv>) {
        use redoubt_core::persist::background::JobKind;
        match node.server().background.running() {
            Some(JobKind::Save) => self.paths.saves_interrupted += 1,
            Some(_) => self.paths.rewrites_interrupted += 1,
            None => {}
        }
    }

    /// Takes an ended incarnation's trace, folds its hash, and turns it
    /// into write units appended to the lineage.
    pub(super) fn end_incarnation_into_lineage(&mut self, env: &mut SimEnv) {
        let mut trace = self.end_incarnation(env);
        self.forget_peer_commands(self.incarnation, &mut trace);
        let (mut units, waits) = UnitBuilder {
            model: &mut self.model,
            written: &mut self.written,
            incarnation: self.incarnation,
            aof_on: self.config.appendonly,
            history: self.reader.as_mut().map(|reader| &mut reader.history),
        }
        .units(&trace);
        let incarnation = self.incarnation;
        let connections = &self.connections;
        let releases = |conn| {
            let log = connections.get(&(incarnation, conn))?;
            Some(log.released.as_slice())
        };
        mark_releases(&mut units, releases);
        mark_confirmations(&mut units, &waits, releases);
        let acknowledged = units.iter().filter(|u| u.released_at_ms.is_some()).count();
        self.writes_acknowledged += acknowledged as u64;
        self.lineage.extend(units);
        self.traces.push(trace);
    }

    /// Takes an ended incarnation's trace and folds its hash.
    pub(super) fn end_incarnation(&mut self, env: &mut SimEnv) -> Vec<TraceRecord> {
        self.trace_hashes.push(env.trace_hash());
        std::mem::take(&mut env.trace)
    }

    /// The node stops handling events for `duration_ms` (or longer, if
    /// already paused).
    pub(super) fn pause_for(&mut self, duration_ms: u64) {
        let now = self.now_ms;
        let NodeState::Up { paused_until, .. } = &mut self.node else {
            return;
        };
        let until = paused_until.unwrap_or(now).max(now + duration_ms);
        *paused_until = Some(until);
        self.trouble.add(now, until);
        self.absent.push((now, until));
        self.pauses.push((now, until));
        self.schedule(until, Event::Resume);
    }

    /// Background fsyncs that finished while the node was paused: it hears
    /// of them when it resumes.
    pub(super) fn deferred_completions(&mut self, done: Vec<(DiskOpId, io::Result<()>)>) {
        self.deferred_disk.extend(done);
    }

    pub(super) fn resume(&mut self) {
        let now = self.now_ms;
        let NodeState::Up { paused_until, .. } = &mut self.node else {
            return;
        };
        if paused_until.is_none_or(|until| until > now) {
            return;
        }
        *paused_until = None;
        let completions = std::mem::take(&mut self.deferred_disk);
        if let Some(node) = self.running() {
            for (op, result) in completions {
                node.on_disk_done(op, result);
            }
        }
        self.node_touched = true;
        for event in std::mem::take(&mut self.deferred) {
            if self.running().is_none() {
                break;
            }
            self.handle(now, event);
            self.after_node_event();
        }
    }

    fn fill_disk(&mut self, duration_ms: u64, free_bytes: u64) -> bool {
        let disk = self.disk_mut();
        let used = disk.used_bytes_total();
        let capacity = disk.capacity_bytes().min(used + free_bytes);
        disk.set_capacity_bytes(capacity);
        let episode = self.disk_fulls.len() as u64;
        self.disk_fulls.push(DiskFullRecord {
            start_ms: self.now_ms,
            space_back_ms: None,
            resumed_ms: None,
            hit: false,
        });
        self.schedule(self.now_ms + duration_ms, Event::SpaceBack { episode });
        true
    }

    pub(super) fn space_back(&mut self, episode: usize) {
        let now = self.now_ms;
        if self.disk_fulls[episode].space_back_ms.is_some() {
            return;
        }
        self.disk_fulls[episode].space_back_ms = Some(now);
        let still_full = self.disk_fulls.iter().any(|e| e.space_back_ms.is_none());
        if !still_full {
            let capacity = self.capacity_default_bytes;
            self.disk_mut().set_capacity_bytes(capacity);
        }
        self.watch_aof_errors();
    }

    /// Follows the node's AOF error states: counts recoveries and marks
    /// when writing resumed after a full disk (the first look, once space
    /// is back, at a node whose AOF has no write error).
    pub(super) fn watch_aof_errors(&mut self) {
        let NodeState::Up { node, .. } = &self.node else {
            return;
        };
        let server = node.server();
        let aof = &server.aof;
        let now = (aof.write_error.is_some(), aof.fsync_error.is_some());
        // With the AOF switched off (CONFIG SET appendonly no) a write
        // error left on its closed file blocks nothing.
        let blocked = server.aof_on && now.0;
        let before = self.aof_errors_seen;
        self.aof_errors_seen = now;
        match (now.1, self.fsync_error_since_ms) {
            (true, None) => self.fsync_error_since_ms = Some(self.now_ms),
            (false, Some(since)) => {
                self.trouble.add(since, self.now_ms);
                self.fsync_error_since_ms = None;
            }
            _ => {}
        }
        for episode in self.disk_fulls.iter_mut() {
            if episode.resumed_ms.is_some() {
                continue;
            }
            if blocked {
                episode.hit = true;
            } else if episode.space_back_ms.is_some() {
                episode.resumed_ms = Some(self.now_ms);
            }
        }
        if before.0 && !now.0 {
            self.paths.write_errors_recovered += 1;
        }
        if before.1 && !now.1 {
            self.paths.fsync_errors_recovered += 1;
        }
    }

    /// Moves disk errors and slow fsyncs the node saw into the trouble
    /// record.
    pub(super) fn collect_env_trouble(&mut self) {
        let NodeState::Up { node, .. } = &mut self.node else {
            return;
        };
        for (start, end) in std::mem::take(&mut node.env_mut().trouble) {
            self.trouble.add(start, end);
            if self.record_timeline {
                self.disk_trouble.push((start, end));
            }
        }
    }

    /// Starts a shutdown: SIGTERM now (or when a paused node resumes), or a
    /// client that sends SHUTDOWN.
    pub(super) fn begin_shutdown(
        &mut self,
        how: ShutdownHow,
        restart_delay_ms: u64,
        power_loss: bool,
        is_final: bool,
    ) -> bool {
        if self.shutdown.is_some() || self.death.is_some() {
            return false;
        }
        self.shutdown = Some(ShutdownProgress {
            since_ms: self.now_ms,
            power_loss,
            restart_delay_ms,
            is_final,
            command_client: None,
        });
        self.shutdowns.push(ShutdownRecord {
            requested_ms: self.now_ms,
            exited_ms: None,
            killed: false,
            in_quiet_phase: self.quiet,
            made_safe: false,
            persistence_switched: false,
        });
        match how {
            ShutdownHow::Signal => self.schedule(self.now_ms, Event::ShutdownRetry),
            ShutdownHow::Command => {
                let batches = [vec![vec![b"SHUTDOWN".to_vec()]]];
                let client = self.add_client(Role::one_off(batches), self.now_ms, false);
                if let Some(progress) = self.shutdown.as_mut() {
                    progress.command_client = Some(client);
                }
            }
        }
        true
    }

    /// The client that sent SHUTDOWN got a reply: the node refused.
    pub(super) fn shutdown_command_answered(&mut self, client: usize) {
        let asked = self
            .shutdown
            .is_some_and(|p| p.command_client == Some(client));
        if asked {
            self.shutdown = None;
            self.paths.shutdowns_refused += 1;
        }
    }

    /// SIGTERM (again), or SIGKILL once the grace is over.
    pub(super) fn shutdown_retry(&mut self) {
        let Some(progress) = self.shutdown else {
            return;
        };
        if self.now_ms.saturating_sub(progress.since_ms) >= SHUTDOWN_GRACE_MS {
            if let Some(record) = self.shutdowns.last_mut() {
                record.killed = true;
            }
            let cause = DownCause::Killed;
            let delay = progress.restart_delay_ms;
            self.crash_node(CrashKind::Process, delay, cause, progress.is_final);
            return;
        }
        let Some(node) = self.running() else {
            return;
        };
        let start = node.request_shutdown(ShutdownReason::Signal);
        self.node_touched = true;
        // Exiting: the node finishes after this event. Otherwise the
        // supervisor signals again, and kills it after the grace.
        if start != ShutdownStart::Exiting {
            if start == ShutdownStart::Refused {
                self.paths.shutdowns_refused += 1;
            }
            self.schedule(self.now_ms + SHUTDOWN_RETRY_MS, Event::ShutdownRetry);
        }
    }

    /// The node was asked to shut down: its last work, then exit, or back
    /// to serving if it could not make the data safe.
    pub(super) fn finish_shutdown(&mut self) {
        let restart_config_aof = self.config.appendonly;
        if self.running().is_none() {
            return;
        }
        // Before the node closes its replicas' connections.
        let asked_ms = self.shutdown.map_or(self.now_ms, |p| p.since_ms);
        self.switchover_exit(asked_ms);
        let Some(node) = self.running() else {
            return;
        };
        node.finish_shutdown();
        let server = node.server();
        let persistence_switched = server.aof_on != restart_config_aof;
        let made_safe = if restart_config_aof {
            let aof = &server.aof;
            server.aof_on
                && aof.fsynced == aof.appended
                && aof.write_error.is_none()
                && aof.fsync_error.is_none()
        } else {
            server.dirty == 0
        };
        self.drain_outbox();
        let progress = self.shutdown.take().unwrap_or_else(|| {
            // A SHUTDOWN from the workload itself.
            self.shutdowns.push(ShutdownRecord {
                requested_ms: self.now_ms,
                exited_ms: None,
                killed: false,
                in_quiet_phase: self.quiet,
                made_safe: false,
                persistence_switched: false,
            });
            ShutdownProgress {
                since_ms: self.now_ms,
                power_loss: false,
                restart_delay_ms: COMMAND_SHUTDOWN_RESTART_MS,
                is_final: false,
                command_client: None,
            }
        });
        if let Some(record) = self.shutdowns.last_mut() {
            record.exited_ms = Some(self.now_ms);
            record.made_safe = made_safe;
            record.persistence_switched = persistence_switched;
        }
        let ending = self.ending(progress.power_loss, made_safe);
        let cause = DownCause::Exit {
            power_loss: progress.power_loss,
        };
        let delay = progress.restart_delay_ms;
        self.take_node_down(None, ending, delay, cause, progress.is_final);
    }

    /// The node that went down starts again on its disk; the checkers judge
    /// what it recovered.
    pub(super) fn restart(&mut self) {
        let state = std::mem::replace(&mut self.node, NodeState::Gone);
        let NodeState::Down(mut parked) = state else {
            self.node = state;
            return;
        };
        if parked.restart_at_ms > self.now_ms {
            self.node = NodeState::Down(parked);
            return;
        }
        self.incarnation += 1;
        let random = SimRng::new(
            self.options.seed,
            stream::NODE_RESTART_BASE + self.incarnation as u64,
        );
        let clock = self.world_clock();
        let placeholder = SimDisk::new(DiskOptions::default(), SimRng::new(0, 0));
        let disk = std::mem::replace(&mut parked.disk, placeholder);
        let mut env = SimEnv::new(clock, disk, random);
        env.advance_to(self.now_ms);
        match Node::start(env, self.config.clone()) {
            Ok(node) => self.judge_recovery(node, *parked),
            Err(mut error) => {
                let trace = self.end_incarnation(&mut error.env);
                self.traces.push(trace);
                parked.disk = error.env.disk;
                self.refused(parked, error.reason);
            }
        }
    }

    /// A start attempt failed: try again later, or give up.
    fn refused(&mut self, mut parked: Box<Parked>, reason: String) {
        self.paths.starts_refused += 1;
        parked.refusals.push(reason);
        if self.quiet {
            parked.attempts_in_quiet += 1;
        }
        let give_up = parked.refusals.len() >= START_ATTEMPTS_MAX
            || parked.attempts_in_quiet >= QUIET_START_ATTEMPTS;
        if give_up {
            let report = RestartReport {
                number: self.restarts.len() + 1,
                cause: parked.cause,
                down_ms: parked.down_at_ms,
                restart_ms: self.now_ms,
                refusals: parked.refusals.clone(),
                outcome: Err(parked.refusals.last().cloned().unwrap_or_default()),
            };
            self.restarts.push(report);
            self.node = NodeState::Down(parked);
            self.ended = true;
            return;
        }
        parked.restart_at_ms = self.now_ms + START_RETRY_MS;
        self.trouble.add(self.now_ms, parked.restart_at_ms);
        self.absent.push((self.now_ms, parked.restart_at_ms));
        self.node = NodeState::Down(parked);
        self.schedule(self.now_ms + START_RETRY_MS, Event::Restart);
    }

    /// Judges `recovered`, the dataset node 0 goes on from (after a
    /// restart, or a promotion), against the lineage under `ending`, and
    /// the applications' invariants on it.
    pub(super) fn judge_dataset(
        &mut self,
        node: &Node<SimEnv>,
        recovered: &Dataset,
        ending: &Ending,
        when: &str,
    ) -> RecoveryCheck {
        let off = self.durability_off_reason();
        let check = Judgement {
            final_state: self.model.data(),
            units: &self.lineage,
            recovered,
            wall_ms: self.wall_high_ms.max(node.env().wall_ms()),
            written: &self.written,
        }
        .judge(off.is_none().then_some((ending, &self.trouble)));
        let owed = check.durable.as_ref().map(|durable| {
            self.lineage[..durable.required]
                .iter()
                .filter_map(|unit| {
                    let (conn, end) = unit.reply_end?;
                    Some((unit.incarnation, conn, end))
                })
                .collect::<BTreeSet<_>>()
        });
        self.app_findings.unowed_restarts |= owed.is_none();
        self.app_findings
            .check(when, recovered, &self.app_acks, owed.as_ref());
        check
    }

    /// Node 0 goes on with `node`, whose dataset `recovered` a restart
    /// (or a promotion) brought and `report` tells of: the lineage keeps
    /// the prefix it holds, the model carries on from it, and the node
    /// takes the seat.
    pub(super) fn take_seat(
        &mut self,
        node: Box<Node<SimEnv>>,
        recovered: Dataset,
        report: RestartReport,
    ) {
        match report.outcome.as_ref().ok().and_then(|r| r.check.prefix) {
            Some(k) => self.lineage.truncate(k),
            None => self.lineage.clear(),
        }
        if let Some(reader) = self.reader.as_mut() {
            reader.history.restart(&recovered);
        }
        self.model.restart_with(recovered);
        self.restarts.push(report);
        self.node = NodeState::Up {
            node,
            paused_until: None,
        };
        self.up_since_ms = self.now_ms;
        self.aof_errors_seen = (false, false);
        self.node_touched = true;
        if self.quiet {
            self.disk_mut().heal();
        }
    }

    /// Checks the recovered dataset against the lineage, then lets the
    /// model and the node go on from it.
    fn judge_recovery(&mut self, node: Node<SimEnv>, parked: Parked) {
        let recovered = dataset_of(&node);
        let when = format!("restart {}", self.restarts.len() + 1);
        let check = self.judge_dataset(&node, &recovered, &parked.ending, &when);
        let truncated = node.server().aof_load.truncated.clone();
        self.paths.aof_tails_truncated += u64::from(truncated.is_some());
        let report = RestartReport {
            number: self.restarts.len() + 1,
            cause: parked.cause,
            down_ms: parked.down_at_ms,
            restart_ms: self.now_ms,
            refusals: parked.refusals,
            outcome: Ok(Recovered {
                keys: recovered.values().map(|keys| keys.len()).sum(),
                truncated,
                check,
            }),
        };
        self.take_seat(Box::new(node), recovered, report);
        if parked.is_final {
            self.ended = true;
        }
    }

    /// Every fault stops: the disk heals, space returns, and the liveness
    /// probe starts writing.
    pub(super) fn quiet_phase(&mut self) {
        self.quiet = true;
        self.quiet_since_ms = Some(self.now_ms);
        self.disk_mut().heal();
        self.net.heal_all();
        let capacity = self.capacity_default_bytes;
        self.disk_mut().set_capacity_bytes(capacity);
        for episode in 0..self.disk_fulls.len() {
            self.space_back(episode);
        }
        let role = Role::Probe {
            attempts: 0,
            acknowledged: false,
        };
        let probe = self.add_client(role, self.now_ms, true);
        self.probe = Some(probe);
    }

    /// Once every counted client finished, the plan's final crash comes a
    /// little later.
    pub(super) fn maybe_schedule_final(&mut self) {
        if self.final_scheduled || self.options.faults.final_crash.is_none() {
            return;
        }
        let waiting = self
            .clients
            .iter()
            .any(|slot| slot.counted && !slot.finished);
        let quiet_pending = self.options.faults.quiet_at_ms.is_some() && !self.quiet;
        if waiting || quiet_pending {
            return;
        }
        self.final_scheduled = true;
        self.schedule(self.now_ms + FINAL_CRASH_DELAY_MS, Event::FinalCrash);
    }

    pub(super) fn final_crash(&mut self) {
        if !matches!(self.node, NodeState::Up { .. }) || self.shutdown.is_some() {
            self.schedule(self.now_ms + FINAL_CRASH_DELAY_MS, Event::FinalCrash);
            return;
        }
        if !self.replicas_ready_for_final() {
            self.schedule(self.now_ms + FINAL_REPLICA_WAIT_MS, Event::FinalCrash);
            return;
        }
        let kind = self.options.faults.final_crash.expect("a final crash");
        *self.tallies.entry("final_crash").or_default() += 1;
        let delay = FINAL_RESTART_DELAY_MS;
        match kind {
            FinalKind::Process => {
                let cause = DownCause::Final(CrashKind::Process);
                self.crash_node(CrashKind::Process, delay, cause, true);
            }
            FinalKind::PowerLoss => {
                let cause = DownCause::Final(CrashKind::PowerLoss);
                self.crash_node(CrashKind::PowerLoss, delay, cause, true);
            }
            FinalKind::Shutdown => {
                self.begin_shutdown(ShutdownHow::Signal, delay, true, true);
            }
        }
    }
}

/// The disk's per-call faults for a plan's profile.
pub(super) fn disk_faults(profile: &crate::faults::DiskProfile) -> DiskFaults {
    let [kept, dropped, zeroed, garbage] = profile.sector_weights;
    DiskFaults {
        write_error_ppm: profile.write_error_ppm,
        short_write_ppm: profile.short_write_ppm,
        fsync_error_ppm: profile.fsync_error_ppm,
        fsync_lost_ppm: profile.fsync_lost_ppm,
        read_error_ppm: profile.read_error_ppm,
        metadata_error_ppm: profile.metadata_error_ppm,
        misdirected_write_ppm: profile.misdirected_write_ppm,
        slow_ppm: profile.slow_ppm,
        slow_ms_min: profile.slow_ms_min,
        slow_ms_max: profile.slow_ms_max,
        power_loss: PowerLossModel {
            kept_weight: kept,
            dropped_weight: dropped,
            zeroed_weight: zeroed,
            garbage_weight: garbage,
            all_kept_percent: profile.all_kept_percent,
        },
    }
}

/// A core value as the model holds it. Panics on a type the workload
/// never writes.
fn model_data(value: &Value) -> Data {
    let text = |entry: redoubt_core::db::value::listpack::Entry<'_>| entry.to_vec();
    match value {
        Value::String(bytes) => Data::String(bytes.clone()),
        Value::List(list) => Data::List(list.iter().map(text).collect()),
        Value::Hash(hash) => {
            Data::Hash(hash.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())
        }
        Value::Set(set) => Data::Set(set.iter().map(|member| member.to_vec()).collect()),
        Value::ZSet(zset) => Data::ZSet(
            zset.iter()
                .map(|(member, score)| (member.to_vec(), Score(score)))
                .collect(),
        ),
    }
}

/// The dataset a node holds, every database, values and expiry times.
pub fn dataset_of(node: &Node<SimEnv>) -> Dataset {
    let mut data = Dataset::new();
    for (index, db) in node.server().keyspace.dbs.iter().enumerate() {
        if db.is_empty() {
            continue;
        }
        let keys = data.entry(index).or_default();
        for (key, value, expire_at_ms) in db.entries_with_expiry() {
            let entry = Entry {
                value: model_data(value),
                expire_at_ms,
            };
            keys.insert(key.to_vec(), entry);
        }
    }
    data
}
