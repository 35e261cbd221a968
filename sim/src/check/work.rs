//! Work: the run did what its scenario asked for. A run whose clients were
//! all refused (a `requirepass` in the node's configuration, say) executes
//! nothing and proves nothing, so it fails instead of passing.

use super::Verdict;

/// What the work checker counts.
#[derive(Debug, Clone, Copy)]
pub struct WorkFacts {
    pub requests_sent: u64,
    pub replies: u64,
    /// Replies to commands the node executed (not refused before running).
    pub replies_executed: u64,
    /// Writes whose reply reached the node's client, over the run.
    pub writes_acknowledged: u64,
}

/// Of the replies, at least this share must come from executed commands.
pub const EXECUTED_PERCENT_MIN: u64 = 10;

pub fn check_work(facts: &WorkFacts) -> Verdict {
    let mut violations = Vec::new();
    if facts.writes_acknowledged == 0 {
        violations.push("no write was acknowledged".to_string());
    }
    if facts.replies_executed * 100 < facts.replies * EXECUTED_PERCENT_MIN {
        violations.push(format!(
            "only {} of {} replies came from executed commands (at least {EXECUTED_PERCENT_MIN}% needed)",
            facts.replies_executed, facts.replies
        ));
    }
    Verdict {
        name: "work",
        passed: violations.is_empty(),
        summary: format!(
            "{} requests, {} replies, {} from executed commands, {} writes acknowledged",
            facts.requests_sent, facts.replies, facts.replies_executed, facts.writes_acknowledged
        ),
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run in which every request was refused fails; one with work done
    /// passes.
    #[test]
    fn refused_runs_fail() {
        let refused = WorkFacts {
            requests_sent: 1054,
            replies: 1054,
            replies_executed: 0,
            writes_acknowledged: 0,
        };
        assert!(!check_work(&refused).passed);
        let worked = WorkFacts {
            replies_executed: 900,
            writes_acknowledged: 400,
            ..refused
        };
        assert!(check_work(&worked).passed);
    }
}
