//! The market of "Redis in Action" §4.4: `market:users:U` hashes hold each
//! user's funds, `market:inventory:U` sets their items, and the sorted set
//! `market:market` the listed items (`ITEM.SELLER`, scored by price).
//!
//! Listing WATCHes the seller's inventory, checks which items are there
//! (SMISMEMBER, the book's SISMEMBER for every item at once), then moves
//! one to the market in one MULTI. Buying WATCHes the
//! market and the buyer, reads the listings and the buyer's funds, then
//! pays the seller, charges the buyer, hands over the item and removes the
//! listing in one MULTI. A null EXEC (a watched key changed) retries.
//!
//! The first trader sets the market up, in one MULTI, with the figures
//! recorded in `market:setup`; every trader checks for it again after a
//! lost connection, since a crash may have lost it.

use super::{exec_outcome, request, AppNext, AppStats, ExecOutcome, RETRIES_MAX, THINK_MS_MAX};
use crate::workload::resp::Reply;
use crate::workload::Batch;
use crate::world::rng::SimRng;

pub const SETUP_KEY: &[u8] = b"market:setup";
pub const MARKET_KEY: &[u8] = b"market:market";
/// Users of the market.
pub const USERS: u64 = 4;
/// Items, handed out round robin at setup.
pub const ITEMS: u64 = 12;
/// Funds each user starts with.
pub const FUNDS: i64 = 100;

pub fn user_key(user: u64) -> Vec<u8> {
    format!("market:users:{user}").into_bytes()
}

pub fn inventory_key(user: u64) -> Vec<u8> {
    format!("market:inventory:{user}").into_bytes()
}

pub fn item_name(item: u64) -> Vec<u8> {
    format!("item{item}").into_bytes()
}

/// A listing's member in the market: `ITEM.SELLER`.
pub fn listing(item: &[u8], seller: u64) -> Vec<u8> {
    let mut member = item.to_vec();
    member.extend_from_slice(format!(".{seller}").as_bytes());
    member
}

/// Splits a listing into the item and the seller.
pub fn parse_listing(member: &[u8]) -> Option<(&[u8], u64)> {
    let dot = member.iter().rposition(|&b| b == b'.')?;
    let seller = std::str::from_utf8(&member[dot + 1..]).ok()?.parse().ok()?;
    Some((&member[..dot], seller))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    /// Look for the setup record.
    CheckSetup,
    /// It is missing: write it.
    WriteSetup,
    /// Between operations.
    Idle,
    /// WATCH the seller's inventory and check which items are in it; list
    /// the first held one from `pick` on.
    ListWatch {
        seller: u64,
        pick: u64,
        price: i64,
    },
    ListCommit {
        seller: u64,
        item: u64,
        price: i64,
    },
    /// WATCH the market and the buyer, read listings and funds.
    BuyWatch {
        buyer: u64,
    },
    BuyCommit {
        buyer: u64,
        member: Vec<u8>,
        price: i64,
    },
}

/// One trader: acts for a random user at each operation.
#[derive(Debug, Clone)]
pub struct Trader {
    stage: Stage,
    /// Attempts of the transaction in progress.
    attempts: u64,
    operations_left: u64,
    pub stats: AppStats,
}

impl Trader {
    pub fn new(_index: u64, operations: u64) -> Trader {
        Trader {
            stage: Stage::CheckSetup,
            attempts: 0,
            operations_left: operations,
            stats: AppStats::default(),
        }
    }

    pub fn finished(&self) -> bool {
        self.stage == Stage::Idle && self.operations_left == 0
    }

    pub fn on_disconnected(&mut self) {
        self.stage = Stage::CheckSetup;
        self.attempts = 0;
    }

    pub fn next_batch(&mut self, rng: &mut SimRng) -> Batch {
        if self.stage == Stage::Idle {
            if self.operations_left == 0 {
                return Batch::new();
            }
            self.operations_left -= 1;
            self.attempts = 0;
            self.stage = if rng.percent(50) {
                Stage::ListWatch {
                    seller: rng.range(0, USERS - 1),
                    pick: rng.range(0, ITEMS - 1),
                    price: rng.range(1, FUNDS as u64 / 2) as i64,
                }
            } else {
                Stage::BuyWatch {
                    buyer: rng.range(0, USERS - 1),
                }
            };
        }
        match &self.stage {
            Stage::CheckSetup => vec![
                request(&[b"UNWATCH"]),
                request(&[b"WATCH", SETUP_KEY]),
                request(&[b"EXISTS", SETUP_KEY]),
            ],
            Stage::WriteSetup => setup_batch(),
            Stage::Idle => unreachable!("an operation was chosen"),
            Stage::ListWatch { seller, .. } => {
                let inventory = inventory_key(*seller);
                let mut check = request(&[b"SMISMEMBER", &inventory]);
                check.extend((0..ITEMS).map(item_name));
                vec![
                    request(&[b"UNWATCH"]),
                    request(&[b"WATCH", &inventory]),
                    check,
                ]
            }
            Stage::ListCommit {
                seller,
                item,
                price,
            } => {
                let name = item_name(*item);
                vec![
                    request(&[b"MULTI"]),
                    request(&[
                        b"ZADD",
                        MARKET_KEY,
                        price.to_string().as_bytes(),
                        &listing(&name, *seller),
                    ]),
                    request(&[b"SREM", &inventory_key(*seller), &name]),
                    request(&[b"EXEC"]),
                ]
            }
            Stage::BuyWatch { buyer } => {
                let user = user_key(*buyer);
                vec![
                    request(&[b"UNWATCH"]),
                    request(&[b"WATCH", MARKET_KEY, &user]),
                    request(&[b"ZRANGE", MARKET_KEY, b"0", b"-1", b"WITHSCORES"]),
                    request(&[b"HGET", &user, b"funds"]),
                ]
            }
            Stage::BuyCommit {
                buyer,
                member,
                price,
            } => {
                let (item, seller) = parse_listing(member).expect("a listing the trader read");
                vec![
                    request(&[b"MULTI"]),
                    request(&[
                        b"HINCRBY",
                        &user_key(seller),
                        b"funds",
                        price.to_string().as_bytes(),
                    ]),
                    request(&[
                        b"HINCRBY",
                        &user_key(*buyer),
                        b"funds",
                        (-price).to_string().as_bytes(),
                    ]),
                    request(&[b"SADD", &inventory_key(*buyer), item]),
                    request(&[b"ZREM", MARKET_KEY, member]),
                    request(&[b"EXEC"]),
                ]
            }
        }
    }

    pub fn after_batch(&mut self, replies: &[Reply]) -> AppNext {
        let stage = std::mem::replace(&mut self.stage, Stage::Idle);
        self.stage = match stage {
            Stage::CheckSetup => match replies.last() {
                Some(Reply::Integer(0)) => Stage::WriteSetup,
                // Present, or the check was refused: go on trading (an
                // operation without the setup finds nothing to do).
                _ => Stage::Idle,
            },
            Stage::WriteSetup => match exec_outcome(replies) {
                ExecOutcome::Committed => {
                    self.stats.market_setups += 1;
                    Stage::Idle
                }
                // Another trader wrote it first: look again.
                ExecOutcome::Aborted => Stage::CheckSetup,
                // Refused (a full disk): try again, spending an operation,
                // so that a node that refuses every write lets the run end.
                ExecOutcome::Failed if self.operations_left > 0 => {
                    self.operations_left -= 1;
                    Stage::CheckSetup
                }
                ExecOutcome::Failed => Stage::Idle,
            },
            Stage::Idle => Stage::Idle,
            Stage::ListWatch {
                seller,
                pick,
                price,
            } => match held_item(pick, replies) {
                Some(item) => Stage::ListCommit {
                    seller,
                    item,
                    price,
                },
                None => Stage::Idle,
            },
            Stage::ListCommit {
                seller,
                item,
                price,
            } => match exec_outcome(replies) {
                ExecOutcome::Committed => {
                    self.stats.listings += 1;
                    Stage::Idle
                }
                ExecOutcome::Aborted => self.retry(Stage::ListWatch {
                    seller,
                    pick: item,
                    price,
                }),
                ExecOutcome::Failed => Stage::Idle,
            },
            Stage::BuyWatch { buyer } => match choose_purchase(buyer, replies) {
                Some((member, price)) => Stage::BuyCommit {
                    buyer,
                    member,
                    price,
                },
                None => Stage::Idle,
            },
            Stage::BuyCommit { buyer, .. } => match exec_outcome(replies) {
                ExecOutcome::Committed => {
                    self.stats.purchases += 1;
                    Stage::Idle
                }
                ExecOutcome::Aborted => self.retry(Stage::BuyWatch { buyer }),
                ExecOutcome::Failed => Stage::Idle,
            },
        };
        let think_ms = match self.stage {
            Stage::Idle => {
                if self.operations_left == 0 {
                    return AppNext::Finished;
                }
                THINK_MS_MAX / 2
            }
            _ => 0,
        };
        AppNext::Continue { think_ms }
    }

    /// A watched key changed before EXEC: start the operation over, up to
    /// [`RETRIES_MAX`] times.
    fn retry(&mut self, stage: Stage) -> Stage {
        self.attempts += 1;
        if self.attempts > RETRIES_MAX {
            return Stage::Idle;
        }
        self.stats.transactions_retried += 1;
        stage
    }
}

/// The setup, in one transaction: every user's funds and inventory, then
/// the record of the figures.
fn setup_batch() -> Batch {
    let mut batch = vec![request(&[b"MULTI"])];
    for user in 0..USERS {
        batch.push(request(&[
            b"HSET",
            &user_key(user),
            b"name",
            format!("user{user}").as_bytes(),
            b"funds",
            FUNDS.to_string().as_bytes(),
        ]));
        let mut sadd = request(&[b"SADD", &inventory_key(user)]);
        sadd.extend((user..ITEMS).step_by(USERS as usize).map(item_name));
        batch.push(sadd);
    }
    batch.push(request(&[
        b"HSET",
        SETUP_KEY,
        b"users",
        USERS.to_string().as_bytes(),
        b"items",
        ITEMS.to_string().as_bytes(),
        b"funds",
        FUNDS.to_string().as_bytes(),
    ]));
    batch.push(request(&[b"EXEC"]));
    batch
}

/// The first item SMISMEMBER says is held, from `pick` on, round.
fn held_item(pick: u64, replies: &[Reply]) -> Option<u64> {
    let Some(Reply::Array(Some(held))) = replies.last() else {
        return None;
    };
    (0..ITEMS)
        .map(|step| (pick + step) % ITEMS)
        .find(|&item| matches!(held.get(item as usize), Some(Reply::Integer(1))))
}

/// The first listing of another seller the buyer can afford, from the
/// replies to ZRANGE ... WITHSCORES and HGET funds.
fn choose_purchase(buyer: u64, replies: &[Reply]) -> Option<(Vec<u8>, i64)> {
    let [.., Reply::Array(Some(listings)), Reply::Bulk(Some(funds))] = replies else {
        return None;
    };
    let funds: i64 = std::str::from_utf8(funds).ok()?.parse().ok()?;
    listings.chunks(2).find_map(|pair| {
        let [Reply::Bulk(Some(member)), Reply::Bulk(Some(score))] = pair else {
            return None;
        };
        let price: i64 = std::str::from_utf8(score).ok()?.parse().ok()?;
        let (_, seller) = parse_listing(member)?;
        (seller != buyer && price <= funds).then(|| (member.clone(), price))
    })
}
