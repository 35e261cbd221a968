//! Publish-confirm ([`crate::workload::apps::confirm`]): every action
//! whose confirmation a listener heard on a replica was on that replica
//! when it was heard, and is in the dataset of that replica when a
//! failover promotes it.
//!
//! What is held to it is what the listener heard within one life and one
//! history of its replica: a replica that restarts, or syncs in full (its
//! `master_replid` changes), may legitimately no longer hold what its
//! former master lost, and the listener starts over.

use std::collections::BTreeSet;

use super::model::Dataset;
use super::Verdict;
use crate::check::model::VIOLATIONS_KEPT_MAX;

/// What the listener heard and what was checked.
#[derive(Debug, Default, Clone)]
pub struct ConfirmFindings {
    /// Subscriptions made (one per life and history of the replica).
    pub subscriptions: u64,
    /// Confirmations heard.
    pub confirmations: u64,
    /// Confirmed actions looked for in a promoted replica's dataset.
    pub checked_at_failovers: u64,
    pub violations: Vec<String>,
    pub violations_total: u64,
}

impl ConfirmFindings {
    fn violation(&mut self, text: String) {
        self.violations_total += 1;
        if self.violations.len() < VIOLATIONS_KEPT_MAX {
            self.violations.push(text);
        }
    }

    /// The listener heard `actions` at `at_ms` from replica `node`, whose
    /// dataset holds `held` of the application's records.
    pub fn heard(
        &mut self,
        at_ms: u64,
        node: usize,
        actions: &[Vec<u8>],
        held: &BTreeSet<Vec<u8>>,
    ) {
        for action in actions {
            self.confirmations += 1;
            if !held.contains(action) {
                self.violation(format!(
                    "{at_ms} ms: the confirmation of {} arrived from node {node}, which does not hold it",
                    String::from_utf8_lossy(action)
                ));
            }
        }
    }

    /// A failover promoted the listener's replica with `data`: every
    /// action it confirmed must be there.
    pub fn promoted(&mut self, at_ms: u64, confirmed: &BTreeSet<Vec<u8>>, data: &Dataset) {
        let keys = data.get(&0);
        for action in confirmed {
            self.checked_at_failovers += 1;
            if !keys.is_some_and(|keys| keys.contains_key(action)) {
                self.violation(format!(
                    "failover at {at_ms} ms: {} was confirmed from the promoted replica, which lost it",
                    String::from_utf8_lossy(action)
                ));
            }
        }
    }
}

/// The verdict: no violation, and, when the run had replicas and actions
/// were committed, confirmations were heard (a listener that heard
/// nothing proves nothing) unless a fault kept the replica from its
/// master's stream (`separated`: a partition, a crash, a failover; pub/sub
/// messages published meanwhile are not replayed by a resync).
pub fn verdict(
    findings: &ConfirmFindings,
    committed: u64,
    replicas: usize,
    separated: bool,
) -> Verdict {
    let mut violations = findings.violations.clone();
    let deaf = replicas > 0 && committed > 0 && findings.confirmations == 0 && !separated;
    if deaf {
        violations.push(format!(
            "{committed} actions committed, no confirmation heard on a replica"
        ));
    }
    Verdict {
        name: "publish_confirm",
        passed: findings.violations_total == 0 && !deaf,
        summary: format!(
            "{committed} actions committed, {} subscriptions, {} confirmations heard on a replica, {} checked at failovers, {} violations",
            findings.subscriptions,
            findings.confirmations,
            findings.checked_at_failovers,
            findings.violations_total
        ),
        violations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::model::value::Data;
    use crate::check::model::Entry;

    /// A confirmation of an action the replica does not hold, or one a
    /// promoted replica lost, is a violation; a listener that heard
    /// nothing while actions were committed fails too.
    #[test]
    fn confirmations_must_be_held() {
        let mut findings = ConfirmFindings::default();
        let held: BTreeSet<Vec<u8>> = [b"confirm:0:1".to_vec()].into();
        findings.heard(10, 1, &[b"confirm:0:1".to_vec()], &held);
        assert!(verdict(&findings, 1, 1, false).passed);
        findings.heard(20, 1, &[b"confirm:0:2".to_vec()], &held);
        let failed = verdict(&findings, 2, 1, false);
        assert!(!failed.passed);
        assert!(failed.violations[0].contains("confirm:0:2"), "{failed:?}");

        let mut findings = ConfirmFindings::default();
        let entry = Entry {
            value: Data::String(b"1".to_vec()),
            expire_at_ms: None,
        };
        let data: Dataset = [(0, [(b"confirm:0:1".to_vec(), entry)].into())].into();
        findings.promoted(30, &held, &data);
        assert_eq!(findings.violations_total, 0);
        findings.promoted(40, &[b"confirm:0:3".to_vec()].into(), &data);
        assert_eq!(findings.violations_total, 1);

        let deaf = verdict(&ConfirmFindings::default(), 5, 1, false);
        assert!(!deaf.passed);
        assert!(verdict(&ConfirmFindings::default(), 5, 0, false).passed);
        assert!(verdict(&ConfirmFindings::default(), 5, 1, true).passed);
    }
}
