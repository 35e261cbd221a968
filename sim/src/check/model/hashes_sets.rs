//! The hash and set commands the workload sends, predicted over a
//! `BTreeMap` and a `BTreeSet`. Only commands whose replies do not depend
//! on a hash table's order are predicted (HGETALL and SMEMBERS are not
//! sent).

use std::collections::{BTreeMap, BTreeSet};

use super::value::Data;
use super::{error, strict_int, Expected, Model, ERR_OVERFLOW};
use crate::workload::resp::Reply;

type Hash = BTreeMap<Vec<u8>, Vec<u8>>;
type Set = BTreeSet<Vec<u8>>;

impl Model {
    /// The live hash under `key`: `Ok(None)` if missing, `Err` with
    /// WRONGTYPE's reply if it holds another type.
    fn live_hash(&self, db: usize, key: &[u8], now_ms: i64) -> Result<Option<Hash>, Reply> {
        self.live_as(db, key, now_ms, |data| match data {
            Data::Hash(hash) => Some(hash),
            _ => None,
        })
    }

    fn live_set(&self, db: usize, key: &[u8], now_ms: i64) -> Result<Option<Set>, Reply> {
        self.live_as(db, key, now_ms, |data| match data {
            Data::Set(set) => Some(set),
            _ => None,
        })
    }

    /// Predicts a hash or set command; `None` for a command that is not
    /// one.
    pub(super) fn hash_set_command(
        &mut self,
        db: usize,
        name: &[u8],
        argv: &[Vec<u8>],
        now_ms: i64,
    ) -> Option<Expected> {
        let reply = match (name, argv.len()) {
            (b"HSET", 4..) if argv.len().is_multiple_of(2) => self.hash_set(db, argv, now_ms),
            (b"HGET", 3) => match self.live_hash(db, &argv[1], now_ms) {
                Ok(hash) => Reply::Bulk(hash.and_then(|mut h| h.remove(&argv[2]))),
                Err(reply) => reply,
            },
            (b"HMGET", 3..) => match self.live_hash(db, &argv[1], now_ms) {
                Ok(hash) => {
                    let hash = hash.unwrap_or_default();
                    let values = argv[2..].iter().map(|f| Reply::Bulk(hash.get(f).cloned()));
                    Reply::Array(Some(values.collect()))
                }
                Err(reply) => reply,
            },
            (b"HEXISTS", 3) => match self.live_hash(db, &argv[1], now_ms) {
                Ok(hash) => {
                    Reply::Integer(i64::from(hash.is_some_and(|h| h.contains_key(&argv[2]))))
                }
                Err(reply) => reply,
            },
            (b"HLEN", 2) => match self.live_hash(db, &argv[1], now_ms) {
                Ok(hash) => Reply::Integer(hash.map_or(0, |h| h.len() as i64)),
                Err(reply) => reply,
            },
            (b"HDEL", 3..) => self.hash_delete(db, argv, now_ms),
            (b"HINCRBY", 4) => self.hash_increment(db, argv, now_ms),
            (b"SADD", 3..) => self.set_add(db, argv, now_ms),
            (b"SREM", 3..) => self.set_remove(db, argv, now_ms),
            (b"SISMEMBER", 3) => match self.live_set(db, &argv[1], now_ms) {
                Ok(set) => Reply::Integer(i64::from(set.is_some_and(|s| s.contains(&argv[2])))),
                Err(reply) => reply,
            },
            (b"SMISMEMBER", 3..) => match self.live_set(db, &argv[1], now_ms) {
                Ok(set) => {
                    let set = set.unwrap_or_default();
                    let found = argv[2..]
                        .iter()
                        .map(|m| Reply::Integer(i64::from(set.contains(m))));
                    Reply::Array(Some(found.collect()))
                }
                Err(reply) => reply,
            },
            (b"SCARD", 2) => match self.live_set(db, &argv[1], now_ms) {
                Ok(set) => Reply::Integer(set.map_or(0, |s| s.len() as i64)),
                Err(reply) => reply,
            },
            _ => return None,
        };
        Some(Expected::Exact(reply))
    }

    fn hash_set(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let mut hash = match self.live_hash(db, &argv[1], now_ms) {
            Ok(hash) => hash.unwrap_or_default(),
            Err(reply) => return reply,
        };
        let added = argv[2..]
            .chunks(2)
            .filter(|pair| hash.insert(pair[0].clone(), pair[1].clone()).is_none())
            .count();
        self.store_collection(db, &argv[1], Data::Hash(hash), now_ms);
        Reply::Integer(added as i64)
    }

    fn hash_delete(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let mut hash = match self.live_hash(db, &argv[1], now_ms) {
            Ok(Some(hash)) => hash,
            Ok(None) => return Reply::Integer(0),
            Err(reply) => return reply,
        };
        let removed = argv[2..]
            .iter()
            .filter(|f| hash.remove(*f).is_some())
            .count();
        if removed > 0 {
            self.store_collection(db, &argv[1], Data::Hash(hash), now_ms);
        }
        Reply::Integer(removed as i64)
    }

    fn hash_increment(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let Some(by) = strict_int(&argv[3]) else {
            return error("ERR value is not an integer or out of range");
        };
        let mut hash = match self.live_hash(db, &argv[1], now_ms) {
            Ok(hash) => hash.unwrap_or_default(),
            Err(reply) => return reply,
        };
        let current = match hash.get(&argv[2]) {
            None => 0,
            Some(text) => match strict_int(text) {
                Some(n) => n,
                None => return error("ERR hash value is not an integer"),
            },
        };
        let Some(next) = current.checked_add(by) else {
            return error(ERR_OVERFLOW);
        };
        hash.insert(argv[2].clone(), next.to_string().into_bytes());
        self.store_collection(db, &argv[1], Data::Hash(hash), now_ms);
        Reply::Integer(next)
    }

    fn set_add(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let mut set = match self.live_set(db, &argv[1], now_ms) {
            Ok(set) => set.unwrap_or_default(),
            Err(reply) => return reply,
        };
        let added = argv[2..]
            .iter()
            .filter(|m| set.insert((*m).clone()))
            .count();
        if added > 0 {
            self.store_collection(db, &argv[1], Data::Set(set), now_ms);
        }
        Reply::Integer(added as i64)
    }

    fn set_remove(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let mut set = match self.live_set(db, &argv[1], now_ms) {
            Ok(Some(set)) => set,
            Ok(None) => return Reply::Integer(0),
            Err(reply) => return reply,
        };
        let removed = argv[2..].iter().filter(|m| set.remove(*m)).count();
        if removed > 0 {
            self.store_collection(db, &argv[1], Data::Set(set), now_ms);
        }
        Reply::Integer(removed as i64)
    }
}
