//! The list commands the workload sends, predicted over a `VecDeque`.
//!
//! A blocking pop reaches the trace when it answers: at once, when another
//! client's push served it, or at its timeout. Whichever it was, the model
//! sees it at its place in the execution order, so the prediction is the
//! same as for the non-blocking pop: the first non-empty list's element,
//! or, when every key is empty, what a timeout answers (the null array; a
//! BLMOVE inside MULTI answers as LMOVE, the null bulk).

use std::collections::VecDeque;

use super::value::Data;
use super::{error, int, ok, Expected, Model, ERR_NOT_INTEGER};
use crate::workload::resp::Reply;

type List = VecDeque<Vec<u8>>;

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

fn end(word: &[u8]) -> Option<End> {
    if word.eq_ignore_ascii_case(b"LEFT") {
        Some(End::Head)
    } else if word.eq_ignore_ascii_case(b"RIGHT") {
        Some(End::Tail)
    } else {
        None
    }
}

fn pop(list: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Head => list.pop_front(),
        End::Tail => list.pop_back(),
    }
}

fn push(list: &mut List, end: End, element: Vec<u8>) {
    match end {
        End::Head => list.push_front(element),
        End::Tail => list.push_back(element),
    }
}

/// `index` (negative from the tail) inside a list of `len`.
fn position(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let at = if index < 0 { len + index } else { index };
    (0..len).contains(&at).then_some(at as usize)
}

impl Model {
    /// The live list under `key`: `Ok(None)` if missing, `Err` with
    /// WRONGTYPE's reply if it holds another type.
    fn live_list(&self, db: usize, key: &[u8], now_ms: i64) -> Result<Option<List>, Reply> {
        self.live_as(db, key, now_ms, |data| match data {
            Data::List(list) => Some(list),
            _ => None,
        })
    }

    /// Predicts a list command; `None` for a command that is not one.
    pub(super) fn list_command(
        &mut self,
        db: usize,
        name: &[u8],
        argv: &[Vec<u8>],
        now_ms: i64,
    ) -> Option<Expected> {
        let reply = match (name, argv.len()) {
            (b"LPUSH", 3..) => self.push_elements(db, argv, End::Head, now_ms),
            (b"RPUSH", 3..) => self.push_elements(db, argv, End::Tail, now_ms),
            (b"LPOP", 2..=3) => self.pop_elements(db, argv, End::Head, now_ms),
            (b"RPOP", 2..=3) => self.pop_elements(db, argv, End::Tail, now_ms),
            (b"LLEN", 2) => match self.live_list(db, &argv[1], now_ms) {
                Ok(list) => Reply::Integer(list.map_or(0, |l| l.len() as i64)),
                Err(reply) => reply,
            },
            (b"LINDEX", 3) => self.index(db, argv, now_ms),
            (b"LRANGE", 4) => self.range(db, argv, now_ms),
            (b"LREM", 4) => self.remove(db, argv, now_ms),
            (b"LTRIM", 4) => self.trim(db, argv, now_ms),
            (b"LMOVE", 5) => match (end(&argv[3]), end(&argv[4])) {
                (Some(from), Some(to)) => {
                    self.move_element(db, &argv[1], &argv[2], from, to, now_ms, false)
                }
                _ => return Some(Expected::Unmodeled),
            },
            (b"BLMOVE", 6) => match (end(&argv[3]), end(&argv[4])) {
                (Some(from), Some(to)) => {
                    self.move_element(db, &argv[1], &argv[2], from, to, now_ms, true)
                }
                _ => return Some(Expected::Unmodeled),
            },
            (b"BLPOP", 3..) => self.blocking_pop(db, argv, End::Head, now_ms),
            (b"BRPOP", 3..) => self.blocking_pop(db, argv, End::Tail, now_ms),
            _ => return None,
        };
        Some(Expected::Exact(reply))
    }

    fn push_elements(&mut self, db: usize, argv: &[Vec<u8>], end: End, now_ms: i64) -> Reply {
        let mut list = match self.live_list(db, &argv[1], now_ms) {
            Ok(list) => list.unwrap_or_default(),
            Err(reply) => return reply,
        };
        for element in &argv[2..] {
            push(&mut list, end, element.clone());
        }
        let len = list.len() as i64;
        self.store_collection(db, &argv[1], Data::List(list), now_ms);
        Reply::Integer(len)
    }

    fn pop_elements(&mut self, db: usize, argv: &[Vec<u8>], end: End, now_ms: i64) -> Reply {
        let count = match argv.get(2).map(|text| int(text)) {
            None => None,
            Some(Some(n)) if n >= 0 => Some(n as usize),
            Some(_) => return error("ERR value is out of range, must be positive"),
        };
        let mut list = match self.live_list(db, &argv[1], now_ms) {
            Ok(Some(list)) => list,
            Ok(None) if count.is_some() => return Reply::Array(None),
            Ok(None) => return Reply::Bulk(None),
            Err(reply) => return reply,
        };
        let popped: Vec<Vec<u8>> = (0..count.unwrap_or(1))
            .map_while(|_| pop(&mut list, end))
            .collect();
        if !popped.is_empty() {
            self.store_collection(db, &argv[1], Data::List(list), now_ms);
        }
        match count {
            None => Reply::Bulk(popped.into_iter().next()),
            Some(_) => Reply::Array(Some(
                popped.into_iter().map(|e| Reply::Bulk(Some(e))).collect(),
            )),
        }
    }

    fn index(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let list = match self.live_list(db, &argv[1], now_ms) {
            Ok(Some(list)) => list,
            Ok(None) => return Reply::Bulk(None),
            Err(reply) => return reply,
        };
        let Some(index) = int(&argv[2]) else {
            return error(ERR_NOT_INTEGER);
        };
        Reply::Bulk(position(index, list.len()).map(|at| list[at].clone()))
    }

    fn range(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let (Some(start), Some(stop)) = (int(&argv[2]), int(&argv[3])) else {
            return error(ERR_NOT_INTEGER);
        };
        let list = match self.live_list(db, &argv[1], now_ms) {
            Ok(list) => list.unwrap_or_default(),
            Err(reply) => return reply,
        };
        let len = list.len() as i64;
        let first = if start < 0 {
            (len + start).max(0)
        } else {
            start
        };
        let last = if stop < 0 {
            len + stop
        } else {
            stop.min(len - 1)
        };
        let elements = if first > last || first >= len {
            Vec::new()
        } else {
            list.range(first as usize..=last as usize)
                .map(|e| Reply::Bulk(Some(e.clone())))
                .collect()
        };
        Reply::Array(Some(elements))
    }

    fn remove(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let Some(count) = int(&argv[2]) else {
            return error(ERR_NOT_INTEGER);
        };
        let mut list = match self.live_list(db, &argv[1], now_ms) {
            Ok(Some(list)) => list,
            Ok(None) => return Reply::Integer(0),
            Err(reply) => return reply,
        };
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let target = &argv[3];
        let mut indexes: Vec<usize> = (0..list.len()).filter(|&i| &list[i] == target).collect();
        if count < 0 {
            indexes.reverse();
        }
        indexes.truncate(limit);
        indexes.sort_unstable();
        for &at in indexes.iter().rev() {
            list.remove(at);
        }
        if !indexes.is_empty() {
            self.store_collection(db, &argv[1], Data::List(list), now_ms);
        }
        Reply::Integer(indexes.len() as i64)
    }

    fn trim(&mut self, db: usize, argv: &[Vec<u8>], now_ms: i64) -> Reply {
        let (Some(start), Some(stop)) = (int(&argv[2]), int(&argv[3])) else {
            return error(ERR_NOT_INTEGER);
        };
        let list = match self.live_list(db, &argv[1], now_ms) {
            Ok(Some(list)) => list,
            Ok(None) => return ok(),
            Err(reply) => return reply,
        };
        let len = list.len() as i64;
        let first = if start < 0 {
            (len + start).max(0)
        } else {
            start
        };
        let last = if stop < 0 {
            len + stop
        } else {
            stop.min(len - 1)
        };
        let kept: List = if first > last || first >= len {
            List::new()
        } else {
            list.range(first as usize..=last as usize)
                .cloned()
                .collect()
        };
        if kept.len() != list.len() {
            self.store_collection(db, &argv[1], Data::List(kept), now_ms);
        }
        ok()
    }

    #[allow(clippy::too_many_arguments)]
    fn move_element(
        &mut self,
        db: usize,
        source: &[u8],
        destination: &[u8],
        from: End,
        to: End,
        now_ms: i64,
        blocking: bool,
    ) -> Reply {
        // Run again after blocking, a key of another type is passed over
        // (Redis 7.0 leaves the client blocked), and a timeout answers the
        // null array whatever the command.
        let timed_out = || Reply::Array(None);
        let found = match self.live_list(db, source, now_ms) {
            Err(_) if self.after_block_now => None,
            Err(reply) => return reply,
            Ok(found) => found,
        };
        let Some(mut list) = found else {
            return if blocking && !self.in_transaction_now {
                timed_out()
            } else {
                Reply::Bulk(None)
            };
        };
        if let Err(reply) = self.live_list(db, destination, now_ms) {
            return reply;
        }
        let element = pop(&mut list, from).expect("stored lists are never empty");
        self.store_collection(db, source, Data::List(list), now_ms);
        let mut target = self
            .live_list(db, destination, now_ms)
            .ok()
            .flatten()
            .unwrap_or_default();
        push(&mut target, to, element.clone());
        self.store_collection(db, destination, Data::List(target), now_ms);
        Reply::Bulk(Some(element))
    }

    fn blocking_pop(&mut self, db: usize, argv: &[Vec<u8>], end: End, now_ms: i64) -> Reply {
        let keys = &argv[1..argv.len() - 1];
        for key in keys {
            match self.live_list(db, key, now_ms) {
                Ok(None) => continue,
                Ok(Some(mut list)) => {
                    let element = pop(&mut list, end).expect("stored lists are never empty");
                    self.store_collection(db, key, Data::List(list), now_ms);
                    return Reply::Array(Some(vec![
                        Reply::Bulk(Some(key.clone())),
                        Reply::Bulk(Some(element)),
                    ]));
                }
                Err(_) if self.after_block_now => continue,
                Err(reply) => return reply,
            }
        }
        Reply::Array(None)
    }
}
