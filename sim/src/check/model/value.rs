//! What the model holds under a key: a string or one of the collections,
//! in the plainest structure that answers the workload's commands (a list
//! is a `VecDeque`, a hash a `BTreeMap`), written independently of core's
//! encodings so the two check each other.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::world::hash::TraceHasher;

/// A value as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    String(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// Member to score.
    ZSet(BTreeMap<Vec<u8>, Score>),
}

/// A sorted-set score: a double, equal to another only bit for bit, so
/// that a value recovered from disk must hold exactly the double written
/// (an RDB stores the binary double, an AOF its `%.17g` text).
#[derive(Debug, Clone, Copy)]
pub struct Score(pub f64);

impl PartialEq for Score {
    fn eq(&self, other: &Score) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Score {}

impl Score {
    /// The score as Redis 7.0 replies with it: C's `%.17g`, with `inf`
    /// and `-inf` spelled so. Written here from the C standard's rules,
    /// not from core's formatter, so the two check each other.
    pub fn format(self) -> String {
        let x = self.0;
        if x.is_infinite() {
            return if x > 0.0 { "inf" } else { "-inf" }.to_string();
        }
        if x == 0.0 {
            return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
        }
        // Seventeen significant digits, correctly rounded.
        let scientific = format!("{x:.16e}");
        let (mantissa, exponent) = scientific.split_once('e').expect("an exponent");
        let exponent: i32 = exponent.parse().expect("a decimal exponent");
        let sign = if x < 0.0 { "-" } else { "" };
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let trimmed = |text: String| -> String {
            if text.contains('.') {
                text.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                text
            }
        };
        if !(-4..17).contains(&exponent) {
            let mantissa = trimmed(format!("{}.{}", &digits[..1], &digits[1..]));
            let exponent_sign = if exponent < 0 { '-' } else { '+' };
            return format!("{sign}{mantissa}e{exponent_sign}{:02}", exponent.abs());
        }
        let fixed = if exponent >= 0 {
            let point = exponent as usize + 1;
            format!("{}.{}", &digits[..point], &digits[point..])
        } else {
            let zeros = "0".repeat((-exponent - 1) as usize);
            format!("0.{zeros}{digits}")
        };
        format!("{sign}{}", trimmed(fixed))
    }
}

/// Tags of the canonical encoding `hash_into` folds; never reuse one.
mod tag {
    pub const STRING: u8 = 1;
    pub const LIST: u8 = 2;
    pub const HASH: u8 = 3;
    pub const SET: u8 = 4;
    pub const ZSET: u8 = 5;
}

impl Data {
    /// The value as its canonical bytes, folded into `hasher`: what the
    /// integrity checker remembers of every value a client wrote.
    pub fn hash_into(&self, hasher: &mut TraceHasher) {
        match self {
            Data::String(bytes) => {
                hasher.u8(tag::STRING);
                hasher.bytes(bytes);
            }
            Data::List(elements) => {
                hasher.u8(tag::LIST);
                hasher.u64(elements.len() as u64);
                elements.iter().for_each(|element| hasher.bytes(element));
            }
            Data::Hash(fields) => {
                hasher.u8(tag::HASH);
                hasher.u64(fields.len() as u64);
                for (field, value) in fields {
                    hasher.bytes(field);
                    hasher.bytes(value);
                }
            }
            Data::Set(members) => {
                hasher.u8(tag::SET);
                hasher.u64(members.len() as u64);
                members.iter().for_each(|member| hasher.bytes(member));
            }
            Data::ZSet(scores) => {
                hasher.u8(tag::ZSET);
                hasher.u64(scores.len() as u64);
                for (member, score) in scores {
                    hasher.bytes(member);
                    hasher.u64(score.0.to_bits());
                }
            }
        }
    }

    /// The value as a report shows it: a string's first bytes, a
    /// collection's type, size and first elements.
    pub fn show(&self) -> String {
        const SHOWN_ELEMENTS_MAX: usize = 4;
        let first = |items: Vec<&[u8]>| -> String {
            items
                .iter()
                .take(SHOWN_ELEMENTS_MAX)
                .map(|item| short(item))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Data::String(bytes) => format!("{:?}", short(bytes)),
            Data::List(elements) => format!(
                "list of {} [{}]",
                elements.len(),
                first(elements.iter().map(Vec::as_slice).collect())
            ),
            Data::Hash(fields) => format!(
                "hash of {} {{{}}}",
                fields.len(),
                first(fields.keys().map(Vec::as_slice).collect())
            ),
            Data::Set(members) => format!(
                "set of {} {{{}}}",
                members.len(),
                first(members.iter().map(Vec::as_slice).collect())
            ),
            Data::ZSet(scores) => format!(
                "sorted set of {} {{{}}}",
                scores.len(),
                first(scores.keys().map(Vec::as_slice).collect())
            ),
        }
    }

    /// The name `TYPE` replies with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Data::String(_) => "string",
            Data::List(_) => "list",
            Data::Hash(_) => "hash",
            Data::Set(_) => "set",
            Data::ZSet(_) => "zset",
        }
    }

    /// Whether the value is a collection with nothing in it (never kept).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            Data::String(_) => false,
            Data::List(elements) => elements.is_empty(),
            Data::Hash(fields) => fields.is_empty(),
            Data::Set(members) => members.is_empty(),
            Data::ZSet(scores) => scores.is_empty(),
        }
    }
}

/// The first bytes of `value`, as text.
pub fn short(value: &[u8]) -> String {
    const SHOWN_BYTES_MAX: usize = 40;
    let text = String::from_utf8_lossy(&value[..value.len().min(SHOWN_BYTES_MAX)]);
    if value.len() > SHOWN_BYTES_MAX {
        format!("{text}...({} bytes)", value.len())
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod score_tests {
    use super::Score;

    /// What Redis 7.0.15 replied to ZSCORE after ZADD of each spelling
    /// (the workload's among them), and to ZINCRBY sums.
    #[test]
    fn scores_print_as_redis_prints_them() {
        let added: &[(&str, &str)] = &[
            ("0.1", "0.10000000000000001"),
            ("1.1", "1.1000000000000001"),
            ("-2.25", "-2.25"),
            ("0.5", "0.5"),
            ("3.14159", "3.1415899999999999"),
            ("1e3", "1000"),
            ("2.5e-3", "0.0025000000000000001"),
            ("-7.125e-9", "-7.1250000000000001e-09"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("123456789.123456789", "123456789.12345679"),
            ("1e-5", "1.0000000000000001e-05"),
            ("123456789012345678", "1.2345678901234568e+17"),
            ("1e20", "1e+20"),
            ("-5", "-5"),
            ("0", "0"),
            ("inf", "inf"),
            ("-inf", "-inf"),
        ];
        for &(text, want) in added {
            let score: f64 = text.parse().expect("a double");
            assert_eq!(Score(score).format(), want, "{text}");
        }
        let sum = |a: &str, b: &str| a.parse::<f64>().unwrap() + b.parse::<f64>().unwrap();
        assert_eq!(Score(sum("0.1", "1.1")).format(), "1.2000000000000002");
        assert_eq!(Score(sum("0.5", "0.2")).format(), "0.69999999999999996");
    }

    #[test]
    fn scores_are_equal_bit_for_bit() {
        assert_eq!(Score(0.1 + 0.2), Score(0.1 + 0.2));
        assert_ne!(Score(0.1 + 0.2), Score(0.3));
        assert_ne!(Score(0.0), Score(-0.0));
    }
}
