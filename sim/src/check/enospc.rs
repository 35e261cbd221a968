//! ENOSPC: while the disk is full the node neither crashes nor loses an
//! acknowledged write (the restarts' durability verdicts prove that part),
//! write commands are refused with `-MISCONF` or their replies held, and
//! once space returns writing resumes by itself within a bound.

use super::{absent_within, Verdict};
use crate::run::simulation::DiskFullRecord;

/// What the ENOSPC checker looks at.
#[derive(Debug, Clone)]
pub struct EnospcFacts<'a> {
    pub episodes: &'a [DiskFullRecord],
    /// Write commands refused with `-MISCONF` over the run.
    pub misconf_refusals: u64,
    /// Writing must resume within this long after space returns.
    pub resume_bound_ms: u64,
    /// Other per-call write faults were on, so a resumption may be
    /// delayed by them; the bound is then checked only in the quiet phase.
    pub other_write_faults: bool,
    pub quiet_since_ms: Option<u64>,
    /// Stretches in which the node was down or paused: they do not count
    /// against the bound.
    pub absent: &'a [(u64, u64)],
}

/// The ENOSPC verdict, `None` when the disk never filled.
pub fn check_enospc(facts: &EnospcFacts<'_>) -> Option<Verdict> {
    if facts.episodes.is_empty() {
        return None;
    }
    let mut violations = Vec::new();
    let hit = facts.episodes.iter().filter(|e| e.hit).count();
    let mut slowest_ms = 0;
    for (number, episode) in facts.episodes.iter().enumerate() {
        let Some(back) = episode.space_back_ms else {
            continue;
        };
        let judged = !facts.other_write_faults || facts.quiet_since_ms.is_some_and(|q| back >= q);
        match episode.resumed_ms {
            Some(resumed) => {
                let absent = absent_within(facts.absent, back, resumed);
                let took = resumed.saturating_sub(back).saturating_sub(absent);
                slowest_ms = slowest_ms.max(took);
                if judged && took > facts.resume_bound_ms {
                    violations.push(format!(
                        "full disk {}: writing resumed {took} ms after space returned (bound {} ms)",
                        number + 1,
                        facts.resume_bound_ms
                    ));
                }
            }
            None if judged => violations.push(format!(
                "full disk {}: writing never resumed after space returned at {back} ms",
                number + 1
            )),
            None => {}
        }
    }
    Some(Verdict {
        name: "enospc",
        passed: violations.is_empty(),
        summary: format!(
            "{} full-disk episodes, {hit} hit a write, {} writes refused with MISCONF, writing resumed at most {slowest_ms} ms after space returned",
            facts.episodes.len(),
            facts.misconf_refusals
        ),
        violations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn episode(back: u64, resumed: Option<u64>) -> DiskFullRecord {
        DiskFullRecord {
            start_ms: 100,
            space_back_ms: Some(back),
            resumed_ms: resumed,
            hit: true,
        }
    }

    /// Writing must resume within the bound once space is back; never
    /// resuming fails.
    #[test]
    fn resumption_within_bound() {
        let episodes = [episode(1000, Some(1500))];
        let mut facts = EnospcFacts {
            episodes: &episodes,
            misconf_refusals: 3,
            resume_bound_ms: 1000,
            other_write_faults: false,
            quiet_since_ms: None,
            absent: &[],
        };
        assert!(check_enospc(&facts).unwrap().passed);
        let late = [episode(1000, Some(2500))];
        facts.episodes = &late;
        assert!(
            !check_enospc(&facts).unwrap().passed,
            "1500 ms is beyond 1000"
        );
        let never = [episode(1000, None)];
        facts.episodes = &never;
        assert!(!check_enospc(&facts).unwrap().passed, "never resumed");
        let absent = [(1200, 2000)];
        facts.absent = &absent;
        facts.episodes = &late;
        assert!(
            check_enospc(&facts).unwrap().passed,
            "800 ms of downtime do not count: 700 ms"
        );
        facts.episodes = &[];
        assert!(check_enospc(&facts).is_none(), "no episode, no verdict");
    }
}
