//! Scores as Redis reads and writes them.
//!
//! Reading goes through an emulation of C's `strtod` (decimal and
//! hexadecimal notation, `inf`/`infinity`/`nan` in any case, an optional
//! sign, leading white space), because Redis parses scores, weights and
//! range bounds with it and accepts or refuses exactly what it accepts:
//! [`parse_score`] is Redis's `string2d` (the whole text, no leading space,
//! no overflow or underflow to zero, no NaN) and [`parse_range_number`] is
//! the looser reading of `ZRANGEBYSCORE` bounds (leading space, the empty
//! text as 0, overflow to infinity). Writing is Redis 7.0's `%.17g`
//! ([`format_score`]) and its `d2string` ([`score_to_text`]), which stores
//! integral scores as integers in a listpack.

use std::cmp::Ordering;

/// What a `strtod` call read: the value, how many bytes it consumed (0:
/// no number at all) and whether it reported a range error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Parsed {
    pub value: f64,
    pub consumed: usize,
    pub range_error: bool,
}

/// C's `isspace` in the "C" locale.
pub fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Reads the longest prefix of `text` that C's `strtod` reads.
pub fn strtod(text: &[u8]) -> Parsed {
    let none = Parsed {
        value: 0.0,
        consumed: 0,
        range_error: false,
    };
    let mut at = 0;
    while at < text.len() && is_c_space(text[at]) {
        at += 1;
    }
    let negative = text.get(at) == Some(&b'-');
    if matches!(text.get(at), Some(b'-' | b'+')) {
        at += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let rest = &text[at..];
    if let Some(length) = special_word(rest, b"infinity").or_else(|| special_word(rest, b"inf")) {
        return Parsed {
            value: sign * f64::INFINITY,
            consumed: at + length,
            range_error: false,
        };
    }
    if special_word(rest, b"nan").is_some() {
        return Parsed {
            value: f64::NAN,
            consumed: at + 3 + nan_payload(&rest[3..]),
            range_error: false,
        };
    }
    let is_hex = rest.len() > 2
        && rest[0] == b'0'
        && (rest[1] | 0x20) == b'x'
        && (rest[2].is_ascii_hexdigit()
            || (rest[2] == b'.' && rest.get(3).is_some_and(u8::is_ascii_hexdigit)));
    let read = if is_hex {
        hex_number(&rest[2..]).map(|(value, length, range)| (value, length + 2, range))
    } else {
        decimal_number(rest)
    };
    match read {
        None => none,
        Some((value, length, range_error)) => Parsed {
            value: sign * value,
            consumed: at + length,
            range_error,
        },
    }
}

/// The length of `word` at the start of `text`, matched without case.
fn special_word(text: &[u8], word: &[u8]) -> Option<usize> {
    (text.len() >= word.len() && text[..word.len()].eq_ignore_ascii_case(word))
        .then_some(word.len())
}

/// The length of a `(n-char-sequence)` after `nan`, if one follows.
fn nan_payload(text: &[u8]) -> usize {
    if text.first() != Some(&b'(') {
        return 0;
    }
    match text[1..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'_'))
    {
        Some(end) if text[1 + end] == b')' => end + 2,
        _ => 0,
    }
}

/// A decimal number at the start of `text` (after the sign): its
/// magnitude, length and range error. `None` if no digit starts it.
fn decimal_number(text: &[u8]) -> Option<(f64, usize, bool)> {
    let mut at = 0;
    let mut digits = 0;
    let mut nonzero = false;
    while at < text.len() && text[at].is_ascii_digit() {
        nonzero |= text[at] != b'0';
        at += 1;
        digits += 1;
    }
    if at < text.len() && text[at] == b'.' {
        at += 1;
        while at < text.len() && text[at].is_ascii_digit() {
            nonzero |= text[at] != b'0';
            at += 1;
            digits += 1;
        }
    }
    if digits == 0 {
        return None;
    }
    if at < text.len() && (text[at] | 0x20) == b'e' {
        let mut end = at + 1;
        if matches!(text.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        if text.get(end).is_some_and(u8::is_ascii_digit) {
            while end < text.len() && text[end].is_ascii_digit() {
                end += 1;
            }
            at = end;
        }
    }
    let literal = std::str::from_utf8(&text[..at]).ok()?;
    let value: f64 = literal.parse().ok()?;
    let range_error = value.is_infinite() || (value == 0.0 && nonzero);
    Some((value, at, range_error))
}

/// A hexadecimal number after its `0x`: hex digits with an optional point
/// and a binary exponent (`p`), rounded to nearest, ties to even.
fn hex_number(text: &[u8]) -> Option<(f64, usize, bool)> {
    let mut mantissa: u64 = 0;
    let mut sticky = false;
    let mut exponent: i64 = 0;
    let mut at = 0;
    let mut seen_point = false;
    while at < text.len() {
        let byte = text[at];
        if byte == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(digit) = (byte as char).to_digit(16) {
            if mantissa >> 60 == 0 {
                mantissa = mantissa << 4 | u64::from(digit);
                if seen_point {
                    exponent -= 4;
                }
            } else {
                sticky |= digit != 0;
                if !seen_point {
                    exponent += 4;
                }
            }
        } else {
            break;
        }
        at += 1;
    }
    if at < text.len() && (text[at] | 0x20) == b'p' {
        let mut end = at + 1;
        let negative = text.get(end) == Some(&b'-');
        if matches!(text.get(end), Some(b'+' | b'-')) {
            end += 1;
        }
        if text.get(end).is_some_and(u8::is_ascii_digit) {
            let mut power: i64 = 0;
            while end < text.len() && text[end].is_ascii_digit() {
                power = (power * 10 + i64::from(text[end] - b'0')).min(1 << 20);
                end += 1;
            }
            exponent += if negative { -power } else { power };
            at = end;
        }
    }
    let (value, range_error) = round_binary(mantissa, sticky, exponent);
    Some((value, at, range_error))
}

/// `mantissa * 2^exponent` (plus a nonzero tail below it when `sticky`),
/// rounded to the nearest double, ties to even.
fn round_binary(mantissa: u64, sticky: bool, exponent: i64) -> (f64, bool) {
    if mantissa == 0 {
        return (0.0, sticky);
    }
    let shift = mantissa.leading_zeros();
    let mantissa = mantissa << shift;
    let exponent = exponent - i64::from(shift);
    let leading = exponent + 63;
    if leading > 1023 {
        return (f64::INFINITY, true);
    }
    let unit = (leading - 52).max(-1074);
    let dropped = unit - exponent;
    if dropped > 64 {
        return (0.0, true);
    }
    let (kept, remainder, half) = if dropped == 64 {
        (0, mantissa, 1u64 << 63)
    } else if dropped == 0 {
        (mantissa, 0, 0)
    } else {
        let mask = (1u64 << dropped) - 1;
        (mantissa >> dropped, mantissa & mask, 1u64 << (dropped - 1))
    };
    let round_up = dropped > 0
        && match remainder.cmp(&half) {
            Ordering::Greater => true,
            Ordering::Equal => sticky || kept & 1 == 1,
            Ordering::Less => false,
        };
    let kept = kept + u64::from(round_up);
    let value = kept as f64 * power_of_two(unit);
    (value, value.is_infinite() || value == 0.0)
}

/// 2^power for a power a double can hold exactly (-1074 to 1023).
fn power_of_two(power: i64) -> f64 {
    if power >= -1022 {
        f64::from_bits(((power + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (power + 1074))
    }
}

/// Redis's `string2d`: the whole of `text` as a double, or `None` when it
/// is empty, starts with white space, has anything after the number,
/// overflows, underflows to zero, or is NaN.
pub fn parse_score(text: &[u8]) -> Option<f64> {
    if text.is_empty() || is_c_space(text[0]) {
        return None;
    }
    let parsed = strtod(text);
    let refused_range = parsed.range_error && (parsed.value.is_infinite() || parsed.value == 0.0);
    if parsed.consumed != text.len() || refused_range || parsed.value.is_nan() {
        return None;
    }
    Some(parsed.value)
}

/// A range bound as `zslParseRange` reads it after its optional `(`:
/// `strtod` up to the end of the text or to a zero byte (where C stops),
/// leading white space allowed, the empty text reading as 0, overflow as
/// an infinity; NaN refused.
pub fn parse_range_number(text: &[u8]) -> Option<f64> {
    let parsed = strtod(text);
    let ends = parsed.consumed == text.len() || text[parsed.consumed] == 0;
    (ends && !parsed.value.is_nan()).then_some(parsed.value)
}

/// A timeout in seconds, as Redis 7.0's `getTimeoutFromObjectOrReply`
/// reads it: a long double (so magnitudes beyond a double's range are
/// still numbers), times 1000, rounded up, converted to a 64-bit integer
/// (out of range converts to the most negative one). Returns the
/// milliseconds, `Err(false)` when the text is no number ("not a float")
/// and `Err(true)` when the result is negative.
pub fn parse_timeout_ms(text: &[u8]) -> Result<u64, bool> {
    const LONG_DOUBLE_TEXT_MAX: usize = 5 * 1024;
    if text.is_empty() || text.len() >= LONG_DOUBLE_TEXT_MAX || is_c_space(text[0]) {
        return Err(false);
    }
    let parsed = strtod(text);
    if parsed.consumed != text.len() || parsed.value.is_nan() {
        return Err(false);
    }
    let value = if parsed.range_error {
        match long_double_magnitude(text) {
            LongDouble::OutOfRange => return Err(false),
            LongDouble::Huge => f64::INFINITY.copysign(parsed.value),
            LongDouble::Tiny => f64::MIN_POSITIVE.copysign(parsed.value),
        }
    } else {
        parsed.value
    };
    let milliseconds = (value * 1000.0).ceil();
    // 2^63: what converts to a 64-bit integer is below it.
    const INTEGER_BOUND: f64 = 9_223_372_036_854_775_808.0;
    if !(0.0..INTEGER_BOUND).contains(&milliseconds) {
        return Err(true);
    }
    Ok(milliseconds as u64)
}

/// Where a number too large or too small for a double falls for a long
/// double (x87 extended precision, about 1e-4951 to 1.19e4932).
enum LongDouble {
    OutOfRange,
    Huge,
    Tiny,
}

/// Classifies a decimal or hexadecimal text a double cannot hold by its
/// approximate decimal exponent.
fn long_double_magnitude(text: &[u8]) -> LongDouble {
    let text = std::str::from_utf8(text).unwrap_or("");
    let body = text.trim_start_matches(['+', '-']);
    let hex = body.len() > 1 && body.as_bytes()[1] | 0x20 == b'x';
    let (digits, exponent_text) = match body.find(if hex { ['p', 'P'] } else { ['e', 'E'] }) {
        Some(at) => (&body[..at], &body[at + 1..]),
        None => (body, "0"),
    };
    let digits = if hex { &digits[2..] } else { digits };
    let written: i64 = exponent_text
        .parse()
        .unwrap_or(if exponent_text.starts_with('-') {
            i64::MIN / 4
        } else {
            i64::MAX / 4
        });
    let integer_digits = digits
        .split('.')
        .next()
        .unwrap_or("")
        .trim_start_matches('0');
    let leading = if integer_digits.is_empty() {
        let fraction = digits.split('.').nth(1).unwrap_or("");
        -((fraction.len() - fraction.trim_start_matches('0').len()) as i64) - 1
    } else {
        integer_digits.len() as i64 - 1
    };
    let decimal_exponent = if hex {
        (written + 4 * (leading + 1)) * 30103 / 100_000
    } else {
        written.saturating_add(leading)
    };
    if !(-4951..=4931).contains(&decimal_exponent) {
        LongDouble::OutOfRange
    } else if decimal_exponent > 0 {
        LongDouble::Huge
    } else {
        LongDouble::Tiny
    }
}

/// A score as Redis 7.0 replies with it and writes it in an AOF rewrite:
/// `printf("%.17g")`, with `inf`, `-inf` and `nan` spelled so.
pub fn format_score(value: f64) -> String {
    if value.is_nan() {
        return "nan".to_string();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let scientific = format!("{value:.16e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("scientific notation has an exponent");
    let exponent: i32 = exponent.parse().expect("the exponent is a number");
    if !(-4..17).contains(&exponent) {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        let fixed = format!("{value:.*}", (16 - exponent) as usize);
        strip_fraction_zeros(&fixed).to_string()
    }
}

/// Drops trailing zeros after a decimal point, and the point if nothing
/// is left after it (what `%g` does without the `#` flag).
fn strip_fraction_zeros(text: &str) -> &str {
    if !text.contains('.') {
        return text;
    }
    text.trim_end_matches('0').trim_end_matches('.')
}

/// A score as Redis 7.0's `d2string` writes it into a listpack: an
/// integer in plain digits when it is one of magnitude below 2^52 (so
/// negative zero becomes `0`), otherwise `%.17g`.
pub fn score_to_text(value: f64) -> String {
    const INTEGER_LIMIT: f64 = 4_503_599_627_370_496.0;
    if value > -INTEGER_LIMIT && value < INTEGER_LIMIT && value == value.trunc() {
        return (value as i64).to_string();
    }
    format_score(value)
}

/// A score read back from its listpack text (Redis's `zzlStrtod`).
pub fn score_from_text(text: &[u8]) -> f64 {
    strtod(text).value
}

#[cfg(test)]
mod tests {
    use super::*;

    // Scores parse as strtod does, with string2d's refusals.
    #[test]
    fn parses_like_strtod() {
        let cases: &[(&str, Option<f64>)] = &[
            ("1", Some(1.0)),
            ("-1.5", Some(-1.5)),
            ("+2", Some(2.0)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1e3", Some(1000.0)),
            ("1E-2", Some(0.01)),
            ("inf", Some(f64::INFINITY)),
            ("-Infinity", Some(f64::NEG_INFINITY)),
            ("+INF", Some(f64::INFINITY)),
            ("0x10", Some(16.0)),
            ("0x1p-2", Some(0.25)),
            ("0x.8", Some(0.5)),
            ("-0x1.8p1", Some(-3.0)),
            ("1e-310", Some(1e-310)),
            ("nan", None),
            ("NaN", None),
            ("", None),
            (" 1", None),
            ("1 ", None),
            ("1e", None),
            ("abc", None),
            ("1e400", None),
            ("1e-400", None),
            ("0e-400", Some(0.0)),
            ("0x", None),
            ("1\0", None),
            ("--1", None),
        ];
        for (text, expected) in cases {
            let parsed = parse_score(text.as_bytes());
            match expected {
                Some(value) => assert_eq!(parsed, Some(*value), "{text}"),
                None => assert!(parsed.is_none(), "{text}: {parsed:?}"),
            }
        }
    }

    // Range bounds are read more loosely.
    #[test]
    fn range_numbers() {
        assert_eq!(parse_range_number(b""), Some(0.0));
        assert_eq!(parse_range_number(b" 1"), Some(1.0));
        assert_eq!(parse_range_number(b"1\0x"), Some(1.0));
        assert_eq!(parse_range_number(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_range_number(b"nan"), None);
        assert_eq!(parse_range_number(b"1x"), None);
    }

    // %.17g, as glibc prints it.
    #[test]
    fn formats_like_printf() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (-0.0, "-0"),
            (1.5, "1.5"),
            (0.1, "0.10000000000000001"),
            (1.1, "1.1000000000000001"),
            (1e20, "1e+20"),
            (1e16, "10000000000000000"),
            (1e17, "1e+17"),
            (1.0 / 3.0, "0.33333333333333331"),
            (0.0001, "0.0001"),
            (0.00001, "1.0000000000000001e-05"),
            (800_000_000_000_001.0 / 8.0, "100000000000000.12"),
            (5e-324, "4.9406564584124654e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, text) in cases {
            assert_eq!(format_score(*value), *text);
        }
        assert_eq!(score_to_text(3.0), "3");
        assert_eq!(score_to_text(-0.0), "0");
        assert_eq!(score_to_text(1.5), "1.5");
        assert_eq!(score_to_text(1e16), "10000000000000000");
    }

    // Timeouts: rounded up to milliseconds, negative or unrepresentable
    // refused as Redis 7.0 refuses them.
    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout_ms(b"1"), Ok(1000));
        assert_eq!(parse_timeout_ms(b"0.0001"), Ok(1));
        assert_eq!(parse_timeout_ms(b"-0.0001"), Ok(0));
        assert_eq!(parse_timeout_ms(b"1e-400"), Ok(1));
        assert_eq!(parse_timeout_ms(b"-1e-400"), Ok(0));
        assert_eq!(parse_timeout_ms(b"0x10"), Ok(16000));
        assert_eq!(parse_timeout_ms(b"inf"), Err(true));
        assert_eq!(parse_timeout_ms(b"1e400"), Err(true));
        assert_eq!(parse_timeout_ms(b"1e30"), Err(true));
        assert_eq!(parse_timeout_ms(b"-1"), Err(true));
        assert_eq!(parse_timeout_ms(b"9223372036854776"), Err(true));
        assert_eq!(parse_timeout_ms(b"1e5000"), Err(false));
        assert_eq!(parse_timeout_ms(b"1e-5000"), Err(false));
        assert_eq!(parse_timeout_ms(b"nan"), Err(false));
        assert_eq!(parse_timeout_ms(b""), Err(false));
        assert_eq!(parse_timeout_ms(b" 1"), Err(false));
        assert_eq!(parse_timeout_ms(b"x"), Err(false));
    }
}
