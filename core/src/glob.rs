//! Redis-style glob matching, as used by KEYS, SCAN MATCH, PSUBSCRIBE,
//! CONFIG GET and ACL patterns: [`glob_match`] with the semantics of Redis's
//! `stringmatchlen`, including its quirks, in time polynomial in the
//! lengths of the pattern and the string (no exponential backtracking).

/// Whether `string` matches the glob `pattern`, with the semantics of
/// Redis's `stringmatchlen`:
///
/// * `*` matches any run of bytes, including none; consecutive stars act as
///   one.
/// * `?` matches exactly one byte.
/// * `[...]` matches one byte from a class: single bytes, ranges `a-z` (a
///   reversed range `z-a` means the same), `\x` for a literal `x`; `[^...]`
///   negates. A class with no closing `]` runs to the end of the pattern.
///   As in Redis, a range is recognised whenever a `-` follows a byte and
///   some byte follows the `-`, even if that byte is `]`.
/// * `\x` outside a class matches `x` literally; a trailing `\` matches
///   itself.
/// * `nocase` folds ASCII letters, except (as in Redis) for escaped bytes
///   inside a class.
///
/// Like Redis, an empty string matches only the empty pattern, so `*` does
/// not match the empty string. Redis's KEYS and SCAN skip matching
/// altogether when the pattern is exactly `*`; callers that need that
/// behaviour must do the same. Unlike Redis, patterns with more than 1000
/// stars are not rejected, since matching here cannot recurse.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    if string.is_empty() {
        return pattern.is_empty();
    }
    Matcher { pattern, nocase }.matches(string)
}

/// A pattern and its case folding; matches strings against it.
struct Matcher<'p> {
    pattern: &'p [u8],
    nocase: bool,
}

/// Where to resume after a mismatch: the pattern position just after the
/// most recent star, and the string position that star's match ends at.
struct StarRestart {
    pattern_position: usize,
    string_position: usize,
}

impl Matcher<'_> {
    /// Greedy matching with a single restart point: every token other than
    /// `*` consumes exactly one byte, so on a mismatch it is enough to let
    /// the most recent star absorb one more byte. Earlier stars never need
    /// to be revisited (a longer match for them would only leave less of the
    /// string for the rest of the pattern), which keeps the work at most
    /// pattern length times string length.
    fn matches(&self, string: &[u8]) -> bool {
        let mut pattern_position = 0;
        let mut string_position = 0;
        let mut restart: Option<StarRestart> = None;
        while string_position < string.len() {
            if self.pattern.get(pattern_position) == Some(&b'*') {
                pattern_position = self.skip_stars(pattern_position);
                if pattern_position == self.pattern.len() {
                    return true;
                }
                restart = Some(StarRestart {
                    pattern_position,
                    string_position,
                });
                continue;
            }
            if let Some(next) = self.match_token(pattern_position, string[string_position]) {
                pattern_position = next;
                string_position += 1;
                continue;
            }
            let Some(point) = restart.as_mut() else {
                return false;
            };
            point.string_position += 1;
            pattern_position = point.pattern_position;
            string_position = point.string_position;
        }
        self.skip_stars(pattern_position) == self.pattern.len()
    }

    /// The first position at or after `position` that is not a star.
    fn skip_stars(&self, mut position: usize) -> usize {
        while self.pattern.get(position) == Some(&b'*') {
            position += 1;
        }
        position
    }

    /// If the single-byte token (anything but `*`) at `position` matches
    /// `byte`, the position after the token. `None` on a mismatch or at the
    /// end of the pattern.
    fn match_token(&self, position: usize, byte: u8) -> Option<usize> {
        let (matched, next) = match *self.pattern.get(position)? {
            b'?' => (true, position + 1),
            b'[' => self.match_class(position + 1, byte),
            b'\\' if position + 1 < self.pattern.len() => (
                self.same_byte(self.pattern[position + 1], byte),
                position + 2,
            ),
            literal => (self.same_byte(literal, byte), position + 1),
        };
        matched.then_some(next)
    }

    /// Matches `byte` against the class whose body starts at `position`
    /// (just after the `[`). Returns whether it matched and the position
    /// after the closing `]`, or the pattern's end if the class is
    /// unterminated.
    fn match_class(&self, mut position: usize, byte: u8) -> (bool, usize) {
        let pattern = self.pattern;
        let negated = pattern.get(position) == Some(&b'^');
        if negated {
            position += 1;
        }
        let mut matched = false;
        while position < pattern.len() {
            let remaining = pattern.len() - position;
            let current = pattern[position];
            if current == b'\\' && remaining >= 2 {
                position += 1;
                matched |= pattern[position] == byte;
            } else if current == b']' {
                return (matched != negated, position + 1);
            } else if remaining >= 3 && pattern[position + 1] == b'-' {
                matched |= self.in_range(current, pattern[position + 2], byte);
                position += 2;
            } else {
                matched |= self.same_byte(current, byte);
            }
            position += 1;
        }
        (matched != negated, pattern.len())
    }

    /// Whether `byte` lies in the range between `start` and `end`, in either
    /// order. With `nocase` the bounds are folded after ordering them, as
    /// Redis does.
    fn in_range(&self, start: u8, end: u8, byte: u8) -> bool {
        let (low, high) = (start.min(end), start.max(end));
        let (low, high, byte) = (self.fold(low), self.fold(high), self.fold(byte));
        (low..=high).contains(&byte)
    }

    fn same_byte(&self, pattern_byte: u8, byte: u8) -> bool {
        self.fold(pattern_byte) == self.fold(byte)
    }

    fn fold(&self, byte: u8) -> u8 {
        if self.nocase {
            byte.to_ascii_lowercase()
        } else {
            byte
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn matches(pattern: &str, string: &str) -> bool {
        glob_match(pattern.as_bytes(), string.as_bytes(), false)
    }

    fn matches_nocase(pattern: &str, string: &str) -> bool {
        glob_match(pattern.as_bytes(), string.as_bytes(), true)
    }

    /// A plainly exponential matcher with the same token rules, to check
    /// the star handling of the real one against.
    fn reference(matcher: &Matcher, pattern_position: usize, string: &[u8]) -> bool {
        let pattern = matcher.pattern;
        let Some((&byte, rest)) = string.split_first() else {
            return matcher.skip_stars(pattern_position) == pattern.len();
        };
        if pattern.get(pattern_position) == Some(&b'*') {
            return reference(matcher, pattern_position + 1, string)
                || reference(matcher, pattern_position, rest);
        }
        match matcher.match_token(pattern_position, byte) {
            Some(next) => reference(matcher, next, rest),
            None => false,
        }
    }

    #[test]
    fn question_mark_matches_one_byte() {
        assert!(matches("h?llo", "hello"));
        assert!(matches("h?llo", "hallo"));
        assert!(!matches("h?llo", "hllo"));
        assert!(!matches("h?llo", "heello"));
        assert!(matches("???", "abc"));
        assert!(!matches("???", "ab"));
    }

    #[test]
    fn star_matches_any_run_including_none() {
        assert!(matches("h*llo", "hllo"));
        assert!(matches("h*llo", "heeeello"));
        assert!(!matches("h*llo", "hellox"));
        assert!(matches("*", "anything"));
        assert!(matches("**", "x"));
        assert!(matches("a*", "a"));
        assert!(matches("a***", "a"));
        assert!(matches("*a", "a"));
        assert!(matches("*a*", "a"));
        assert!(matches("*llo", "hello"));
        assert!(matches("he*", "hello"));
        assert!(!matches("*x", "hello"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXcYYb"));
        assert!(matches("*ab", "aab"));
        assert!(matches("*aab*", "xaaab"));
    }

    #[test]
    fn empty_string_and_empty_pattern() {
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(!matches("a", ""));
        assert!(!matches("*", ""));
        assert!(!matches("?", ""));
    }

    #[test]
    fn classes_match_one_byte_from_a_set() {
        assert!(matches("h[ae]llo", "hello"));
        assert!(matches("h[ae]llo", "hallo"));
        assert!(!matches("h[ae]llo", "hillo"));
        assert!(!matches("h[ae]llo", "hllo"));
        assert!(matches("h[^e]llo", "hallo"));
        assert!(!matches("h[^e]llo", "hello"));
        assert!(matches("h[a-b]llo", "hallo"));
        assert!(matches("h[a-b]llo", "hbllo"));
        assert!(!matches("h[a-b]llo", "hcllo"));
        assert!(matches("h[b-a]llo", "hallo"));
        assert!(matches("[z-a]", "m"));
        assert!(!matches("[^a-z]", "m"));
        assert!(matches("[^a-z]", "M"));
        assert!(matches("[a-cx-z0]", "0"));
        assert!(matches("[a-cx-z0]", "y"));
        assert!(!matches("[a-cx-z0]", "m"));
    }

    #[test]
    fn class_edge_cases_follow_redis() {
        assert!(!matches("[]", "a"));
        assert!(matches("[^]", "a"));
        assert!(!matches("[]]", "]"));
        assert!(matches("[\\]]", "]"));
        assert!(matches("[a-]", "a"));
        assert!(matches("[a-]", "]"));
        assert!(matches("[a-]", "_"));
        assert!(!matches("[a-]", "b"));
        assert!(!matches("[a-]", "-"));
        assert!(matches("[a-]x", "x"));
        assert!(matches("[-a]", "-"));
        assert!(matches("[ab", "b"));
        assert!(!matches("[ab", "c"));
        assert!(!matches("[", "a"));
        assert!(matches("[^", "a"));
        assert!(matches("[^ab", "c"));
        assert!(matches("x[\\", "x\\"));
        assert!(matches("[a\\-z]", "-"));
        assert!(!matches("[a\\-z]", "m"));
        assert!(matches("[*]", "*"));
        assert!(!matches("[*]", "a"));
        assert!(matches("[?]", "?"));
        assert!(!matches("[?]", "a"));
        assert!(matches("[a]b", "ab"));
        assert!(matches("*[0-9]", "key7"));
    }

    #[test]
    fn escapes_match_literally() {
        assert!(matches("\\*", "*"));
        assert!(!matches("\\*", "a"));
        assert!(matches("a\\*b", "a*b"));
        assert!(!matches("a\\*b", "aXb"));
        assert!(matches("\\?", "?"));
        assert!(!matches("\\?", "a"));
        assert!(matches("\\[a]", "[a]"));
        assert!(matches("\\\\", "\\"));
        assert!(matches("a\\", "a\\"));
        assert!(matches("\\a", "a"));
        assert!(matches("*\\*", "abc*"));
        assert!(!matches("*\\*", "abc"));
    }

    #[test]
    fn nocase_folds_ascii() {
        assert!(matches_nocase("HeLLo", "hello"));
        assert!(!matches("HeLLo", "hello"));
        assert!(matches_nocase("h[A-C]llo", "hbllo"));
        assert!(matches_nocase("h[a-c]llo", "hBllo"));
        assert!(matches_nocase("h[E]llo", "hello"));
        assert!(matches_nocase("\\H*", "hello"));
        assert!(!matches_nocase("[Z-a]", "m"));
        assert!(!matches_nocase("[\\A]", "a"));
        assert!(matches_nocase("[\\A]", "A"));
        assert!(!matches_nocase("h?llo", "HLLO"));
        assert!(!glob_match(b"\xC4", b"\xE4", true));
    }

    #[test]
    fn bytes_need_not_be_utf8() {
        assert!(glob_match(b"\xff*\x00", b"\xff\x01\x02\x00", false));
        assert!(glob_match(b"[\x00-\x10]", b"\x05", false));
        assert!(!glob_match(b"[\x00-\x10]", b"\x11", false));
    }

    #[test]
    fn pathological_patterns_finish_quickly() {
        let mut string = "a".repeat(30);
        string.push('b');
        assert!(!matches("a*a*a*a*a*a*a*a*a*a*c", &string));
        assert!(matches("a*a*a*a*a*a*a*a*a*a*b", &string));
        let long = "a".repeat(20_000);
        let many_stars = "*a".repeat(500) + "b";
        assert!(!matches(&many_stars, &long));
        assert!(matches(&("*a".repeat(1500)), &long));
        assert!(!matches(&("*[a-z]?".repeat(300) + "[^a]"), &long));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_exhaustive_backtracking(
            pattern in prop::collection::vec(prop::sample::select(b"ab*?[]^-\\A".to_vec()), 0..10),
            string in prop::collection::vec(prop::sample::select(b"abAB-]*".to_vec()), 0..8),
            nocase in any::<bool>(),
        ) {
            let matcher = Matcher { pattern: &pattern, nocase };
            let expected = if string.is_empty() {
                pattern.is_empty()
            } else {
                reference(&matcher, 0, &string)
            };
            prop_assert_eq!(glob_match(&pattern, &string, nocase), expected);
        }
    }
}
