//! Builds a finished run's [`Timeline`] from what the simulation kept: the
//! node's lives and pauses, full disks and disk errors, the faults that
//! fired, each client's connections and replies, and the verdicts.

use super::simulation::Simulation;
use crate::check::Verdict;
use crate::report::timeline::{Lane, LaneKind, Mark, Span, Timeline};

impl Simulation {
    /// The run's timeline; `verdicts` and `passed` come from the report.
    pub(super) fn timeline(&self, verdicts: &[Verdict], passed: bool) -> Timeline {
        let end_ms = self.now_ms.max(1);
        let mut lanes = vec![self.node_lane(end_ms), self.disk_lane(), self.faults_lane()];
        lanes.extend(self.client_lanes(end_ms));
        lanes.push(checker_lane(verdicts, end_ms));
        for lane in &mut lanes {
            lane.thin();
        }
        let outcome = if passed { "PASS" } else { "FAIL" };
        Timeline {
            title: format!(
                "{} seed {}: {outcome}",
                self.options.scenario, self.options.seed
            ),
            end_ms,
            lanes,
            passed,
            verdicts: verdicts
                .iter()
                .map(|v| {
                    let state = if v.passed { "pass" } else { "FAIL" };
                    format!("{}: {state}: {}", v.name, v.summary)
                })
                .collect(),
            replay: String::new(),
        }
    }

    fn node_lane(&self, end_ms: u64) -> Lane {
        let mut lane = Lane::new("node", LaneKind::Node);
        let mut up_from = 0;
        for restart in &self.restarts {
            lane.spans.push(span(up_from, restart.down_ms, "up", "up"));
            let label = restart.cause.name();
            lane.spans
                .push(span(restart.down_ms, restart.restart_ms, &label, "down"));
            lane.marks.push(mark(restart.down_ms, &label, "crash"));
            let back = match &restart.outcome {
                Ok(recovered) => format!(
                    "restart {}: {} keys, prefix {}",
                    restart.number,
                    recovered.keys,
                    recovered
                        .check
                        .prefix
                        .map_or("none".to_string(), |k| format!("k = {k}"))
                ),
                Err(reason) => format!("refused to start: {reason}"),
            };
            lane.marks.push(mark(restart.restart_ms, &back, "restart"));
            up_from = restart.restart_ms;
        }
        if self.restarts.last().is_none_or(|r| r.outcome.is_ok()) {
            lane.spans.push(span(up_from, end_ms, "up", "up"));
        }
        for &(start, end) in &self.pauses {
            lane.spans.push(span(start, end, "paused", "paused"));
        }
        if let Some(quiet) = self.quiet_since_ms {
            lane.spans.push(span(quiet, end_ms, "quiet phase", "quiet"));
        }
        lane
    }

    fn disk_lane(&self) -> Lane {
        let mut lane = Lane::new("disk", LaneKind::Disk);
        for episode in &self.disk_fulls {
            let end = episode.space_back_ms.unwrap_or(self.now_ms);
            lane.spans
                .push(span(episode.start_ms, end, "disk full", "disk-full"));
        }
        for &(start, end) in &self.disk_trouble {
            if end > start {
                lane.spans.push(span(start, end, "slow fsync", "slow"));
            } else {
                lane.marks.push(mark(start, "disk error", "disk-error"));
            }
        }
        lane
    }

    fn faults_lane(&self) -> Lane {
        let mut lane = Lane::new("faults", LaneKind::Faults);
        for (at_ms, what) in &self.fired {
            lane.marks.push(mark(*at_ms, what, "fault"));
        }
        lane
    }

    fn client_lanes(&self, end_ms: u64) -> Vec<Lane> {
        let mut lanes: Vec<Lane> = (0..self.clients.len())
            .map(|index| Lane::new(format!("client {index}"), LaneKind::Client))
            .collect();
        for (&(incarnation, conn), log) in &self.connections {
            let lane = &mut lanes[log.client];
            let label = format!(
                "life {} conn {conn}: {} requests",
                incarnation + 1,
                log.requests.len()
            );
            let close = log.closed_ms.unwrap_or(end_ms);
            lane.spans
                .push(span(log.opened_ms, close, &label, "connection"));
            for &(at_ms, bytes, _) in &log.released {
                lane.marks
                    .push(mark(at_ms, &format!("{bytes} bytes sent"), "reply"));
            }
        }
        lanes
    }
}

fn checker_lane(verdicts: &[Verdict], end_ms: u64) -> Lane {
    let mut lane = Lane::new("checkers", LaneKind::Checker);
    for verdict in verdicts {
        let class = if verdict.passed { "pass" } else { "fail" };
        let label = format!("{}: {}", verdict.name, verdict.summary);
        lane.marks.push(mark(end_ms, &label, class));
    }
    lane
}

fn span(start_ms: u64, end_ms: u64, label: &str, class: &'static str) -> Span {
    Span {
        start_ms,
        end_ms: end_ms.max(start_ms),
        label: label.to_string(),
        class,
    }
}

fn mark(at_ms: u64, label: &str, class: &'static str) -> Mark {
    Mark {
        at_ms,
        label: label.to_string(),
        class,
    }
}
