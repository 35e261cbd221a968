//! The durability rules and the prefix search, on a hand-written history.

use super::*;

fn executed(conn: ConnId, words: &[&str], reply: &str, in_transaction: bool) -> TraceRecord {
    TraceRecord {
        monotonic_ms: 0,
        wall_ms: 1_000,
        event: TraceEvent::Executed {
            conn,
            db: 0,
            argv: words.iter().map(|w| w.as_bytes().to_vec()).collect(),
            reply: reply.as_bytes().to_vec(),
            in_transaction,
            after_block: false,
        },
    }
}

/// SET a, INCR n, MULTI { SET b, INCR n } EXEC, SET a again: four
/// units, replies released at 10, 20, 30 and 40 ms under `promise`.
fn history(promise: Promise) -> (Dataset, Vec<WriteUnit>, WrittenValues) {
    let trace = vec![
        executed(1, &["SET", "a", "1"], "+OK\r\n", false),
        executed(2, &["INCR", "n"], ":1\r\n", false),
        executed(1, &["GET", "a"], "$1\r\n1\r\n", false),
        executed(2, &["MULTI"], "+OK\r\n", false),
        executed(2, &["SET", "b", "x"], "+OK\r\n", true),
        executed(2, &["INCR", "n"], ":2\r\n", true),
        executed(2, &["EXEC"], "*2\r\n+OK\r\n:2\r\n", false),
        executed(1, &["SET", "a", "2"], "+OK\r\n", false),
    ];
    let mut model = Model::default();
    let mut written = WrittenValues::default();
    let mut units = UnitBuilder {
        model: &mut model,
        written: &mut written,
        incarnation: 0,
        aof_on: true,
        history: None,
    }
    .units(&trace)
    .0;
    assert!(model.verdict().passed(), "{:?}", model.verdict().violations);
    let sent: BTreeMap<ConnId, Vec<(u64, u64, Promise)>> = [
        (
            1,
            vec![(10, 5, promise), (25, 12, promise), (40, 17, promise)],
        ),
        (2, vec![(20, 4, promise), (30, 24, promise)]),
    ]
    .into();
    mark_releases(&mut units, |conn| sent.get(&conn).map(Vec::as_slice));
    (model.data().clone(), units, written)
}

fn dataset(pairs: &[(&str, &str)]) -> Dataset {
    let keys = pairs
        .iter()
        .map(|(k, v)| {
            let entry = Entry {
                value: Data::String(v.as_bytes().to_vec()),
                expire_at_ms: None,
            };
            (k.as_bytes().to_vec(), entry)
        })
        .collect();
    [(0, keys)].into()
}

fn power_loss_at(at_ms: u64) -> Ending {
    Ending {
        at_ms,
        power_loss: true,
        exit_made_safe: false,
        window_ms: EVERYSEC_WINDOW_MS,
        failover: None,
    }
}

fn judge(
    end: &Dataset,
    units: &[WriteUnit],
    written: &WrittenValues,
    recovered: &Dataset,
    ending: Option<&Ending>,
) -> RecoveryCheck {
    let trouble = Trouble::default();
    Judgement {
        final_state: end,
        units,
        recovered,
        wall_ms: 0,
        written,
    }
    .judge(ending.map(|e| (e, &trouble)))
}

/// The log has one unit per write, the transaction whole, each with the
/// time its reply left and the promise in force then.
#[test]
fn units_follow_writes_and_transactions() {
    let (_, units, _) = history(Promise::Always);
    assert_eq!(units.len(), 4);
    assert_eq!(units[2].changes.len(), 2);
    let released: Vec<_> = units.iter().map(|u| u.released_at_ms).collect();
    assert_eq!(released, [Some(10), Some(20), Some(30), Some(40)]);
    assert!(units.iter().all(|u| u.promise == Promise::Always));
}

/// Every prefix is found, the largest first; the full one passes
/// `always`.
#[test]
fn finds_each_prefix() {
    let (end, units, written) = history(Promise::Always);
    let states = [
        dataset(&[]),
        dataset(&[("a", "1")]),
        dataset(&[("a", "1"), ("n", "1")]),
        dataset(&[("a", "1"), ("n", "2"), ("b", "x")]),
        dataset(&[("a", "2"), ("n", "2"), ("b", "x")]),
    ];
    for (k, state) in states.iter().enumerate() {
        assert_eq!(find_prefix(&end, &units, state, 0), Some(k));
    }
    let check = judge(&end, &units, &written, &states[4], Some(&power_loss_at(50)));
    assert!(check.passed(), "{check:?}");
}

/// Under `always`, a recovered dataset that lacks an acknowledged write
/// is a prefix but fails durability; unacknowledged, it may be lost.
#[test]
fn missing_acknowledged_write_fails_always() {
    let (end, units, written) = history(Promise::Always);
    let recovered = dataset(&[("a", "1"), ("n", "2"), ("b", "x")]);
    let check = judge(&end, &units, &written, &recovered, Some(&power_loss_at(50)));
    assert_eq!(check.prefix, Some(3));
    assert!(!check.passed(), "the fourth unit was acknowledged");
    assert_eq!(check.durable.unwrap().required, 4);
    let mut unreleased = units.clone();
    unreleased[3].released_at_ms = None;
    let check = judge(
        &end,
        &unreleased,
        &written,
        &recovered,
        Some(&power_loss_at(50)),
    );
    assert!(check.passed(), "an unacknowledged write may be lost");
}

/// Under `everysec`, only replies older than the window are owed.
#[test]
fn everysec_owes_only_old_acknowledgements() {
    let (end, units, written) = history(Promise::EverySec);
    let recovered = dataset(&[("a", "1"), ("n", "1")]);
    let soon = judge(
        &end,
        &units,
        &written,
        &recovered,
        Some(&power_loss_at(2_025)),
    );
    assert!(soon.passed(), "{soon:?}");
    let later = judge(
        &end,
        &units,
        &written,
        &recovered,
        Some(&power_loss_at(2_031)),
    );
    assert!(
        !later.passed(),
        "the third unit left 2001 ms before the crash"
    );
    assert_eq!(later.durable.unwrap().required, 3);
}

/// Trouble within a unit's window (a disk error, a pause) lifts what
/// `everysec` owes for it; trouble after its window does not.
#[test]
fn trouble_in_the_window_lifts_everysec() {
    let (_, units, _) = history(Promise::EverySec);
    let ending = power_loss_at(10_000);
    let mut trouble = Trouble::default();
    assert_eq!(required_prefix(&units, &ending, &trouble), 4);
    trouble.add(2_035, 2_035);
    assert_eq!(
        required_prefix(&units, &ending, &trouble),
        3,
        "trouble at 2035 ms falls in the last unit's window (40..2040)"
    );
    let mut late = Trouble::default();
    late.add(5_000, 6_000);
    assert_eq!(required_prefix(&units, &ending, &late), 4);
}

/// A process crash owes every acknowledged write made with the AOF on,
/// whatever the policy; power loss under `no` owes none; a clean exit that
/// made everything safe owes all.
#[test]
fn endings_owe_per_their_rule() {
    let (_, units, _) = history(Promise::No);
    let trouble = Trouble::default();
    let process = Ending {
        power_loss: false,
        ..power_loss_at(50)
    };
    assert_eq!(required_prefix(&units, &process, &trouble), 4);
    assert_eq!(required_prefix(&units, &power_loss_at(50_000), &trouble), 0);
    let clean = Ending {
        exit_made_safe: true,
        ..power_loss_at(50)
    };
    assert_eq!(required_prefix(&units, &clean, &trouble), 4);
    let (_, off, _) = history(Promise::AofOff);
    assert_eq!(required_prefix(&off, &process, &trouble), 0);
}

/// A value no prefix ever held fails prefix; one no client ever wrote
/// also fails integrity.
#[test]
fn not_a_prefix_fails() {
    let (end, units, written) = history(Promise::Always);
    let reordered = dataset(&[("a", "2"), ("n", "1")]);
    let check = judge(&end, &units, &written, &reordered, None);
    assert_eq!(check.prefix, None);
    assert!(check.invented.is_empty(), "a=2 and n=1 were both written");
    assert!(!check.passed());
    let invented = dataset(&[("a", "1"), ("n", "1"), ("z", "0")]);
    let check = judge(&end, &units, &written, &invented, None);
    assert_eq!(check.prefix, None);
    assert_eq!(check.invented, vec!["db0:z".to_string()]);
}

/// Half a transaction (its SET without its INCR) is no prefix.
#[test]
fn torn_transaction_fails() {
    let (end, units, _) = history(Promise::Always);
    let torn = dataset(&[("a", "1"), ("n", "1"), ("b", "x")]);
    assert_eq!(find_prefix(&end, &units, &torn, 0), None);
    let other_half = dataset(&[("a", "1"), ("n", "2")]);
    assert_eq!(find_prefix(&end, &units, &other_half, 0), None);
}

/// A key past its time is absent on either side; before it, its value
/// and expiry must match exactly.
#[test]
fn expired_keys_compare_as_observed() {
    let trace = vec![TraceRecord {
        monotonic_ms: 0,
        wall_ms: 1_000,
        event: TraceEvent::Executed {
            conn: 1,
            db: 0,
            argv: ["SET", "t", "v", "PX", "100"]
                .iter()
                .map(|w| w.as_bytes().to_vec())
                .collect(),
            reply: b"+OK\r\n".to_vec(),
            in_transaction: false,
            after_block: false,
        },
    }];
    let mut model = Model::default();
    let mut written = WrittenValues::default();
    let units = UnitBuilder {
        model: &mut model,
        written: &mut written,
        incarnation: 0,
        aof_on: true,
        history: None,
    }
    .units(&trace)
    .0;
    let end = model.data().clone();
    let empty = dataset(&[]);
    assert_eq!(find_prefix(&end, &units, &empty, 1_100), Some(1));
    assert_eq!(find_prefix(&end, &units, &end, 1_100), Some(1));
    assert_eq!(find_prefix(&end, &units, &empty, 1_099), Some(0));
    let mut other_expiry = end.clone();
    other_expiry
        .get_mut(&0)
        .unwrap()
        .get_mut(&b"t"[..])
        .unwrap()
        .expire_at_ms = Some(1_200);
    assert_eq!(find_prefix(&end, &units, &other_expiry, 1_050), None);
}

/// A write run while the AOF was off is promised nothing more, even when
/// its reply leaves after `CONFIG SET appendonly yes` in the same batch, and
/// so is a transaction during which the AOF was off; a write after the
/// switch keeps the policy's promise.
#[test]
fn writes_run_with_the_aof_off_are_promised_nothing() {
    let trace = vec![
        executed(1, &["SET", "a", "1"], "+OK\r\n", false),
        executed(1, &["CONFIG", "SET", "appendonly", "yes"], "+OK\r\n", false),
        executed(1, &["SET", "b", "1"], "+OK\r\n", false),
        executed(1, &["MULTI"], "+OK\r\n", false),
        executed(1, &["SET", "c", "1"], "+OK\r\n", true),
        executed(1, &["CONFIG", "SET", "appendonly", "no"], "+OK\r\n", true),
        executed(1, &["EXEC"], "*2\r\n+OK\r\n+OK\r\n", false),
        executed(1, &["SET", "d", "1"], "+OK\r\n", false),
    ];
    let mut model = Model::default();
    let mut written = WrittenValues::default();
    let mut units = UnitBuilder {
        model: &mut model,
        written: &mut written,
        incarnation: 0,
        aof_on: false,
        history: None,
    }
    .units(&trace)
    .0;
    assert_eq!(units.len(), 4, "a, b, the transaction, d");
    let released: Vec<(u64, u64, Promise)> = vec![(10, 1_000, Promise::Always)];
    mark_releases(&mut units, |_| Some(released.as_slice()));
    let promises: Vec<Promise> = units.iter().map(|u| u.promise).collect();
    assert_eq!(
        promises,
        [
            Promise::AofOff,
            Promise::Always,
            Promise::AofOff,
            Promise::AofOff
        ]
    );
}

/// Conn 1: SET a, WAIT (1 replica), SET a, WAITAOF (fsynced locally, 2
/// replicas), SET a: replies end at 5, 9, 14, 28 and 33 bytes, released at
/// 10, 20, 30, 40 and 50 ms under `appendfsync no`.
fn confirmed_history() -> Vec<WriteUnit> {
    let trace = vec![
        executed(1, &["SET", "a", "1"], "+OK\r\n", false),
        executed(1, &["WAIT", "1", "100"], ":1\r\n", false),
        executed(1, &["SET", "a", "2"], "+OK\r\n", false),
        executed(
            1,
            &["WAITAOF", "1", "2", "100"],
            "*2\r\n:1\r\n:2\r\n",
            false,
        ),
        executed(1, &["SET", "a", "3"], "+OK\r\n", false),
    ];
    let mut model = Model::default();
    let mut written = WrittenValues::default();
    let (mut units, waits) = UnitBuilder {
        model: &mut model,
        written: &mut written,
        incarnation: 0,
        aof_on: true,
        history: None,
    }
    .units(&trace);
    assert_eq!(waits.len(), 2);
    let p = Promise::No;
    let sent = vec![
        (10, 5, p),
        (20, 9, p),
        (30, 14, p),
        (40, 28, p),
        (50, 33, p),
    ];
    mark_releases(&mut units, |_| Some(sent.as_slice()));
    mark_confirmations(&mut units, &waits, |_| Some(sent.as_slice()));
    units
}

/// A WAITAOF that counted the local AOF makes every earlier write of its
/// connection owed after power loss, whatever the policy; WAIT does not.
#[test]
fn waitaof_local_fsync_is_owed_after_power_loss() {
    let units = confirmed_history();
    let confirmed: Vec<_> = units.iter().map(|u| u.confirmed).collect();
    assert_eq!(
        confirmed,
        [
            Confirmation {
                replicas: 2,
                replicas_at_ms: 40,
                local_fsync: true
            },
            Confirmation {
                replicas: 2,
                replicas_at_ms: 40,
                local_fsync: true
            },
            Confirmation::default(),
        ]
    );
    let trouble = Trouble::default();
    assert_eq!(required_prefix(&units, &power_loss_at(60), &trouble), 2);
}

/// At a failover, a write is owed when the replicas that confirmed it
/// outnumber the nodes lost since: the master, and replicas down after the
/// confirmation.
#[test]
fn failover_owes_what_enough_replicas_confirmed() {
    let units = confirmed_history();
    let trouble = Trouble::default();
    let failover = |down: Vec<u64>| Ending {
        failover: Some(FailoverLoss {
            nodes_lost_ms: down,
            switchover_in_sync: false,
        }),
        ..power_loss_at(60)
    };
    assert_eq!(required_prefix(&units, &failover(vec![]), &trouble), 2);
    // A replica down before the confirmation does not count against it.
    assert_eq!(required_prefix(&units, &failover(vec![35]), &trouble), 2);
    assert_eq!(required_prefix(&units, &failover(vec![45]), &trouble), 2);
    assert_eq!(
        required_prefix(&units, &failover(vec![45, 46]), &trouble),
        0
    );
    assert_eq!(failover(vec![]).rule_name(), "confirmed_by_replicas");
}

/// A key a blocking command found expired before it blocked is deleted
/// then, and the command is traced only when served: the deletion is a
/// unit of its own, owed to no reply, not part of the next command of
/// another connection (whose WAITAOF would then seem to confirm it).
#[test]
fn an_expiry_before_a_block_is_no_part_of_another_connections_unit() {
    let trace = vec![
        executed(1, &["SET", "a", "1", "PX", "5"], "+OK\r\n", false),
        TraceRecord {
            monotonic_ms: 0,
            wall_ms: 2_000,
            event: TraceEvent::Expired {
                db: 0,
                key: b"a".to_vec(),
                conn: Some(1),
            },
        },
        executed(2, &["SET", "b", "1"], "+OK\r\n", false),
    ];
    let mut model = Model::default();
    let mut written = WrittenValues::default();
    let units = UnitBuilder {
        model: &mut model,
        written: &mut written,
        incarnation: 0,
        aof_on: true,
        history: None,
    }
    .units(&trace)
    .0;
    assert_eq!(units.len(), 3, "{units:?}");
    assert_eq!(units[1].reply_end, None, "the deletion waits for no reply");
    assert_eq!(units[1].changes[0].key.1, b"a");
    assert_eq!(units[2].reply_end.map(|(conn, _)| conn), Some(2));
    assert_eq!(units[2].changes.len(), 1, "SET b alone");
}
