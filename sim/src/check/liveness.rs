//! Liveness: every client finished all its operations within the run's
//! bounds.

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
        };
        assert!(check_liveness(&facts).passed);
        facts.clients_finished = 1;
        assert!(!check_liveness(&facts).passed);
        facts.clients_finished = 2;
        facts.stopped_by = Some("events_max".into());
        assert!(!check_liveness(&facts).passed);
    }
}
