//! Liveness: every client finished all its operations within the run's
//! bounds, and, once the quiet phase started, the node acknowledged a
//! write again within the plan's bound, by itself (the probe's write).

use super::Verdict;

/// What liveness looks at.
#[derive(Debug, Clone)]
pub struct LivenessFacts {
    pub clients: usize,
    pub clients_finished: usize,
    pub requests_unanswered: u64,
    /// Requests in flight when a crash closed their connection: their
    /// outcome is unknown, and the client went on.
    pub requests_lost_to_crashes: u64,
    /// Set when the run hit a bound (events or simulated time).
    pub stopped_by: Option<String>,
    /// The quiet phase, if the run had one.
    pub quiet: Option<QuietFacts>,
}

/// What the quiet phase's probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietFacts {
    /// When the bound starts: the quiet phase, or the node coming up after
    /// it if it was down.
    pub from_ms: u64,
    pub probe_acked_ms: Option<u64>,
    pub bound_ms: u64,
    /// Milliseconds of that stretch in which the node was paused or
    /// stalled by the fault phase's leftovers: they do not count.
    pub absent_ms: u64,
}

/// Every client finished its operations, within the run's bounds.
pub fn check_liveness(facts: &LivenessFacts) -> Verdict {
    let mut violations = Vec::new();
    if let Some(bound) = &facts.stopped_by {
        violations.push(format!("the run was stopped by {bound}"));
    }
    if facts.clients_finished < facts.clients {
        violations.push(format!(
            "{} of {} clients did not finish",
            facts.clients - facts.clients_finished,
            facts.clients
        ));
    }
    if facts.requests_unanswered > 0 {
        violations.push(format!("{} requests unanswered", facts.requests_unanswered));
    }
    let mut summary = format!(
        "{}/{} clients finished, {} requests unanswered",
        facts.clients_finished, facts.clients, facts.requests_unanswered
    );
    if facts.requests_lost_to_crashes > 0 {
        summary += &format!(", {} in flight at a crash", facts.requests_lost_to_crashes);
    }
    if let Some(quiet) = &facts.quiet {
        match quiet.probe_acked_ms {
            Some(acked) => {
                let took = acked
                    .saturating_sub(quiet.from_ms)
                    .saturating_sub(quiet.absent_ms);
                summary += &format!(
                    "; writes acknowledged {took} ms into the quiet phase (bound {} ms)",
                    quiet.bound_ms
                );
                if took > quiet.bound_ms {
                    violations.push(format!(
                        "the first write of the quiet phase was acknowledged after {took} ms, beyond the bound of {} ms",
                        quiet.bound_ms
                    ));
                }
            }
            None => {
                summary += "; no write acknowledged in the quiet phase";
                violations.push("the quiet phase's probe never got a write acknowledged".into());
            }
        }
    }
    Verdict {
        name: "liveness",
        passed: violations.is_empty(),
        summary,
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Liveness fails when a client is left unfinished or a bound stops the
    /// run.
    #[test]
    fn liveness_fails_on_unfinished_runs() {
        let mut facts = LivenessFacts {
            clients: 2,
            clients_finished: 2,
            requests_unanswered: 0,
            requests_lost_to_crashes: 0,
            stopped_by: None,
            quiet: None,
        };
        assert!(check_liveness(&facts).passed);
        facts.clients_finished = 1;
        assert!(!check_liveness(&facts).passed);
        facts.clients_finished = 2;
        facts.stopped_by = Some("events_max".into());
        assert!(!check_liveness(&facts).passed);
    }

    /// The quiet phase's probe must be acknowledged within the bound.
    #[test]
    fn quiet_phase_probe_within_bound() {
        let mut facts = LivenessFacts {
            clients: 1,
            clients_finished: 1,
            requests_unanswered: 0,
            requests_lost_to_crashes: 0,
            stopped_by: None,
            quiet: Some(QuietFacts {
                from_ms: 1000,
                probe_acked_ms: Some(1500),
                bound_ms: 1000,
                absent_ms: 0,
            }),
        };
        assert!(check_liveness(&facts).passed);
        facts.quiet.as_mut().unwrap().probe_acked_ms = Some(2001);
        assert!(!check_liveness(&facts).passed, "beyond the bound");
        facts.quiet.as_mut().unwrap().probe_acked_ms = None;
        assert!(!check_liveness(&facts).passed, "never acknowledged");
    }
}
