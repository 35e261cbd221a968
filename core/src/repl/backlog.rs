//! The replication backlog: the last `repl-backlog-size` bytes of the
//! replication stream, so that a replica whose link broke can continue
//! from the offset it reached (`PSYNC replid offset` → `+CONTINUE`)
//! instead of loading the whole dataset again.
//!
//! Offsets are Redis's: the stream's first byte is offset 1, and
//! `master_repl_offset` is the offset of the last byte. The backlog holds
//! bytes `first_offset() ..= master_repl_offset`.

use std::collections::VecDeque;

/// A ring of the stream's most recent bytes.
#[derive(Debug)]
pub struct Backlog {
    bytes: VecDeque<u8>,
    capacity: usize,
    /// `master_repl_offset`: bytes ever appended, counted from the stream's
    /// start (which may precede this backlog's creation).
    end_offset: u64,
}

impl Backlog {
    /// An empty backlog whose next byte will have offset `end_offset + 1`.
    pub fn new(capacity: u64, end_offset: u64) -> Self {
        Backlog {
            bytes: VecDeque::new(),
            capacity: capacity.max(1) as usize,
            end_offset,
        }
    }

    /// Appends stream bytes, dropping the oldest past the capacity.
    pub fn append(&mut self, data: &[u8]) {
        self.end_offset += data.len() as u64;
        if data.len() >= self.capacity {
            self.bytes.clear();
            self.bytes.extend(&data[data.len() - self.capacity..]);
            return;
        }
        let overflow = (self.bytes.len() + data.len()).saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
        self.bytes.extend(data);
    }

    /// The offset of the last byte appended (`master_repl_offset`).
    pub fn end_offset(&self) -> u64 {
        self.end_offset
    }

    /// Bytes held (`repl_backlog_histlen`).
    pub fn histlen(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// The offset of the oldest byte held (`repl_backlog_first_byte_offset`).
    pub fn first_offset(&self) -> u64 {
        self.end_offset - self.histlen() + 1
    }

    pub fn capacity(&self) -> u64 {
        self.capacity as u64
    }

    /// Changes the capacity (`CONFIG SET repl-backlog-size`), keeping the
    /// newest bytes that fit.
    pub fn resize(&mut self, capacity: u64) {
        self.capacity = capacity.max(1) as usize;
        let overflow = self.bytes.len().saturating_sub(self.capacity);
        self.bytes.drain(..overflow);
    }

    /// The bytes from `offset` (the next one a replica wants) to the end,
    /// or `None` when the backlog no longer (or not yet) holds `offset`.
    /// `offset == end_offset() + 1` is the empty tail: the replica has
    /// everything.
    pub fn since(&self, offset: u64) -> Option<Vec<u8>> {
        if offset < self.first_offset() || offset > self.end_offset + 1 {
            return None;
        }
        let skip = (offset - self.first_offset()) as usize;
        Some(self.bytes.range(skip..).copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_newest_bytes_with_redis_offsets() {
        let mut backlog = Backlog::new(8, 0);
        backlog.append(b"abcde");
        assert_eq!((backlog.first_offset(), backlog.end_offset()), (1, 5));
        assert_eq!(backlog.since(1).unwrap(), b"abcde");
        assert_eq!(backlog.since(4).unwrap(), b"de");
        assert_eq!(backlog.since(6).unwrap(), b"");
        assert_eq!(backlog.since(7), None);
        backlog.append(b"fghij");
        assert_eq!((backlog.first_offset(), backlog.end_offset()), (3, 10));
        assert_eq!(backlog.since(2), None);
        assert_eq!(backlog.since(3).unwrap(), b"cdefghij");
        backlog.append(b"0123456789");
        assert_eq!(backlog.since(13).unwrap(), b"23456789");
        assert_eq!(backlog.histlen(), 8);
    }

    #[test]
    fn starts_at_the_stream_offset_it_was_created_at() {
        let mut backlog = Backlog::new(100, 1000);
        assert_eq!(backlog.since(1001).unwrap(), b"");
        assert_eq!(backlog.since(1000), None);
        backlog.append(b"xy");
        assert_eq!(backlog.first_offset(), 1001);
        assert_eq!(backlog.since(1002).unwrap(), b"y");
    }

    #[test]
    fn shrinking_keeps_the_newest() {
        let mut backlog = Backlog::new(10, 0);
        backlog.append(b"0123456789");
        backlog.resize(4);
        assert_eq!(backlog.since(7).unwrap(), b"6789");
        assert_eq!(backlog.first_offset(), 7);
    }
}
