//! What the operator's observability commands read: the slow log
//! (SLOWLOG), the latency monitor's series (LATENCY), the clients in
//! MONITOR mode, and the per-command and per-error counters of INFO
//! commandstats and errorstats.
//!
//! `cmd::call` feeds all of them after each command, from the command's
//! duration in microseconds (`Clock::monotonic_us`); `cmd/observe.rs` holds
//! the commands that read them. Every collection here has a bound: the slow
//! log `slowlog-max-len` entries, a latency series [`LATENCY_SAMPLES_MAX`]
//! samples, the error table [`ERROR_CODES_MAX`] codes.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;

use crate::env::ConnId;

/// Arguments a slow log entry keeps; the last one kept says how many more
/// there were (Redis's SLOWLOG_ENTRY_MAX_ARGC).
pub const SLOWLOG_ARGS_MAX: usize = 32;
/// Bytes of an argument a slow log entry keeps (Redis's
/// SLOWLOG_ENTRY_MAX_STRING).
pub const SLOWLOG_ARG_BYTES_MAX: usize = 128;
/// Samples a latency series keeps, one a second at most (Redis's
/// LATENCY_TS_LEN).
pub const LATENCY_SAMPLES_MAX: usize = 160;
/// Distinct error codes INFO errorstats counts; later new codes are
/// counted in `total_error_replies` only.
pub const ERROR_CODES_MAX: usize = 128;
/// Power-of-two latency buckets a command keeps, from 1 µs to about 6
/// days (longer calls count in the last).
pub const HISTOGRAM_BUCKETS: usize = 40;
/// Errors of a script's commands remembered while it runs.
pub const SCRIPT_ERRORS_MAX: usize = 16;
/// Latency samples the AOF may hold for the monitor before they are read.
pub const PENDING_SAMPLES_MAX: usize = 1024;

/// One slow log entry, as SLOWLOG GET replies it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlowEntry {
    /// Numbered from 0 since the start; RESET does not restart it.
    pub id: u64,
    /// Unix seconds when the command finished.
    pub time_s: i64,
    pub duration_us: u64,
    /// The arguments, shortened (see [`slow_args`]).
    pub argv: Vec<Vec<u8>>,
    /// `ip:port` of the client, `?:0` for a script's commands.
    pub addr: String,
    /// The client's name, empty if none.
    pub name: Vec<u8>,
}

impl SlowEntry {
    /// An entry for `argv` (shortened by [`slow_args`]), numbered when
    /// pushed.
    pub fn new(duration_us: u64, argv: &[Vec<u8>], time_s: i64, addr: &str, name: &[u8]) -> Self {
        SlowEntry {
            id: 0,
            time_s,
            duration_us,
            argv: slow_args(argv),
            addr: addr.to_string(),
            name: name.to_vec(),
        }
    }
}

/// The slow log: newest entry first.
#[derive(Debug, Default)]
pub struct SlowLog {
    /// Newest first, at most `slowlog-max-len`.
    entries: VecDeque<SlowEntry>,
    next_id: u64,
}

impl SlowLog {
    /// Logs `entry` (a command at or over `slowlog-log-slower-than`),
    /// numbering it, and trims the log to `max_len`.
    pub fn push(&mut self, mut entry: SlowEntry, max_len: u64) {
        entry.id = self.next_id;
        self.next_id += 1;
        self.entries.push_front(entry);
        self.trim(max_len);
    }

    /// Drops the oldest entries past `max_len`.
    pub fn trim(&mut self, max_len: u64) {
        self.entries
            .truncate(usize::try_from(max_len).unwrap_or(usize::MAX));
    }

    /// The entries, newest first.
    pub fn entries(&self) -> impl Iterator<Item = &SlowEntry> {
        self.entries.iter()
    }

    /// Entries held (SLOWLOG LEN).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// SLOWLOG RESET: the entries go, the ids go on.
    pub fn reset(&mut self) {
        self.entries.clear();
    }
}

/// A command's arguments as the slow log keeps them: at most
/// [`SLOWLOG_ARGS_MAX`], the last replaced by `... (N more arguments)`,
/// each at most [`SLOWLOG_ARG_BYTES_MAX`] bytes followed by
/// `... (N more bytes)`.
pub fn slow_args(argv: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let kept = argv.len().min(SLOWLOG_ARGS_MAX);
    let mut out = Vec::with_capacity(kept);
    for (at, arg) in argv.iter().take(kept).enumerate() {
        if kept != argv.len() && at == kept - 1 {
            let more = argv.len() - kept + 1;
            out.push(format!("... ({more} more arguments)").into_bytes());
        } else if arg.len() > SLOWLOG_ARG_BYTES_MAX {
            let mut short = arg[..SLOWLOG_ARG_BYTES_MAX].to_vec();
            let more = arg.len() - SLOWLOG_ARG_BYTES_MAX;
            short.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
            out.push(short);
        } else {
            out.push(arg.clone());
        }
    }
    out
}

/// One sample of a latency series: the Unix second and the worst latency
/// seen in it, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySample {
    pub time_s: i64,
    pub latency_ms: u64,
}

/// The samples of one event, a ring of [`LATENCY_SAMPLES_MAX`].
#[derive(Debug, Clone)]
pub struct LatencySeries {
    samples: Vec<LatencySample>,
    /// Where the next sample goes.
    next: usize,
    /// The worst latency ever recorded for the event.
    pub max_ms: u64,
}

impl LatencySeries {
    fn new() -> Self {
        LatencySeries {
            samples: vec![LatencySample::default(); LATENCY_SAMPLES_MAX],
            next: 0,
            max_ms: 0,
        }
    }

    /// Adds a sample; one in the same second as the last keeps the worse.
    fn add(&mut self, time_s: i64, latency_ms: u64) {
        self.max_ms = self.max_ms.max(latency_ms);
        let last = (self.next + LATENCY_SAMPLES_MAX - 1) % LATENCY_SAMPLES_MAX;
        if self.samples[last].time_s == time_s && time_s != 0 {
            let sample = &mut self.samples[last];
            sample.latency_ms = sample.latency_ms.max(latency_ms);
            return;
        }
        self.samples[self.next] = LatencySample { time_s, latency_ms };
        self.next = (self.next + 1) % LATENCY_SAMPLES_MAX;
    }

    /// The most recent sample.
    pub fn latest(&self) -> LatencySample {
        self.samples[(self.next + LATENCY_SAMPLES_MAX - 1) % LATENCY_SAMPLES_MAX]
    }

    /// The samples held, oldest first.
    pub fn history(&self) -> Vec<LatencySample> {
        (0..LATENCY_SAMPLES_MAX)
            .map(|j| self.samples[(self.next + j) % LATENCY_SAMPLES_MAX])
            .filter(|sample| sample.time_s != 0)
            .collect()
    }
}

/// The latency monitor: a series per event name (`command`,
/// `fast-command`, `aof-write`, ...), in name order.
#[derive(Debug, Default)]
pub struct Latency {
    events: BTreeMap<String, LatencySeries>,
}

impl Latency {
    /// Records `latency_ms` for `event` if `latency-monitor-threshold`
    /// (`threshold_ms`, 0 off) asks for it.
    pub fn add_if_needed(&mut self, threshold_ms: u64, event: &str, latency_ms: u64, time_s: i64) {
        if threshold_ms == 0 || latency_ms < threshold_ms {
            return;
        }
        if !self.events.contains_key(event) {
            self.events.insert(event.to_string(), LatencySeries::new());
        }
        if let Some(series) = self.events.get_mut(event) {
            series.add(time_s, latency_ms);
        }
    }

    /// Every event and its series, in name order.
    pub fn events(&self) -> impl Iterator<Item = (&str, &LatencySeries)> {
        self.events
            .iter()
            .map(|(name, series)| (name.as_str(), series))
    }

    /// The series of `event`, if it has samples.
    pub fn series(&self, event: &[u8]) -> Option<&LatencySeries> {
        std::str::from_utf8(event)
            .ok()
            .and_then(|e| self.events.get(e))
    }

    /// LATENCY RESET: forgets the named events (every event if none is
    /// named); how many there were.
    pub fn reset(&mut self, events: &[Vec<u8>]) -> usize {
        if events.is_empty() {
            let count = self.events.len();
            self.events.clear();
            return count;
        }
        events
            .iter()
            .filter(|event| {
                std::str::from_utf8(event).is_ok_and(|e| self.events.remove(e).is_some())
            })
            .count()
    }
}

/// The LATENCY GRAPH text of `event`'s series at `now_s`: a heading with
/// the high and low of the samples held and the all-time high, a rule, and
/// an ASCII chart four rows high, one column per sample, each labelled
/// vertically with its age (`12s`, `3m`, `2h`, `1d`), up to 80 columns a
/// band.
pub fn latency_graph(event: &str, series: &LatencySeries, now_s: i64) -> String {
    const COLUMNS: usize = 80;
    const ROWS: usize = 4;
    let samples = series.history();
    let high = samples.iter().map(|s| s.latency_ms).max().unwrap_or(0);
    let low = samples.iter().map(|s| s.latency_ms).min().unwrap_or(0);
    let mut graph = format!(
        "{event} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
        series.max_ms,
        "-".repeat(COLUMNS)
    );
    let labels: Vec<String> = samples
        .iter()
        .map(|s| age_label(now_s.saturating_sub(s.time_s)))
        .collect();
    let values: Vec<u64> = samples.iter().map(|s| s.latency_ms).collect();
    for (band, start) in (0..values.len()).step_by(COLUMNS).enumerate() {
        if band > 0 {
            graph.push('\n');
        }
        let end = (start + COLUMNS).min(values.len());
        render_band(
            &mut graph,
            &values[start..end],
            &labels[start..end],
            (low, high),
            ROWS,
        );
    }
    graph
}

/// How long ago, in the largest whole unit.
fn age_label(elapsed_s: i64) -> String {
    match elapsed_s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// One band of the chart: `rows` rows of `_o#` steps (`|` under a higher
/// step), a blank row, then the labels written downwards.
fn render_band(
    out: &mut String,
    values: &[u64],
    labels: &[String],
    range: (u64, u64),
    rows: usize,
) {
    const STEPS: &[u8] = b"_o#";
    let steps_total = (STEPS.len() * rows) as i64;
    let spread = match range.1 - range.0 {
        0 => 1.0,
        spread => spread as f64,
    };
    let step_of = |value: u64| {
        let step = ((value - range.0) as f64 * steps_total as f64 / spread) as i64;
        step.clamp(0, steps_total - 1)
    };
    for row in 0..rows {
        let line: String = values
            .iter()
            .map(|&value| {
                let at = step_of(value) - ((rows - row - 1) * STEPS.len()) as i64;
                match at {
                    at if at < 0 => ' ',
                    at if (at as usize) < STEPS.len() => STEPS[at as usize] as char,
                    _ => '|',
                }
            })
            .collect();
        let _ = writeln!(out, "{line}");
    }
    let tallest = labels.iter().map(String::len).max().unwrap_or(0);
    if tallest > 0 {
        let _ = writeln!(out, "{}", " ".repeat(values.len()));
    }
    for at in 0..tallest {
        let line: String = labels
            .iter()
            .map(|label| label.as_bytes().get(at).map_or(' ', |&b| b as char))
            .collect();
        let _ = writeln!(out, "{line}");
    }
}

/// Per command (`get`, `config|get`): INFO commandstats.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandStat {
    /// Times it ran to its end (a blocked command once, when served).
    pub calls: u64,
    /// Microseconds it ran for, in all.
    pub usec: u64,
    /// Refused before it ran (arity, NOAUTH, OOM, MISCONF, ...).
    pub rejected_calls: u64,
    /// Ran and answered an error.
    pub failed_calls: u64,
    /// LATENCY HISTOGRAM's counts: bucket `k` holds the calls that took
    /// under `1024 << k` nanoseconds (and at least the bucket before's),
    /// at most [`HISTOGRAM_BUCKETS`]; empty until the first call.
    pub histogram: Vec<u64>,
}

impl CommandStat {
    /// Counts a call of `duration_us` in its power-of-two bucket.
    pub fn record_latency(&mut self, duration_us: u64) {
        if self.histogram.is_empty() {
            self.histogram = vec![0; HISTOGRAM_BUCKETS];
        }
        let ns = duration_us.saturating_mul(1000);
        let bucket = match ns >> 10 {
            0 => 0,
            above => (u64::BITS - above.leading_zeros()) as usize,
        };
        self.histogram[bucket.min(HISTOGRAM_BUCKETS - 1)] += 1;
    }

    /// The upper bound, in nanoseconds, of the bucket the `percentile`th
    /// call falls in (INFO latencystats); 0 before any call.
    pub fn percentile_bound_ns(&self, percentile: f64) -> u64 {
        let total: u64 = self.histogram.iter().sum();
        if total == 0 {
            return 0;
        }
        let wanted = ((percentile / 100.0 * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (bucket, &count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return 1024 << bucket;
            }
        }
        1024 << (HISTOGRAM_BUCKETS - 1)
    }

    /// The histogram as LATENCY HISTOGRAM replies it: for each bucket
    /// that adds calls, its bound in microseconds and the calls up to it.
    pub fn cumulative_histogram(&self) -> Vec<(u64, u64)> {
        let mut total = 0;
        let mut points = Vec::new();
        for (bucket, &count) in self.histogram.iter().enumerate() {
            if count > 0 {
                total += count;
                points.push(((1024u64 << bucket) / 1000, total));
            }
        }
        points
    }
}

/// The clients in MONITOR mode, in the order they asked.
#[derive(Debug, Default)]
pub struct Monitors {
    conns: Vec<ConnId>,
}

impl Monitors {
    /// `conn` entered MONITOR mode (once, however often it asks).
    pub fn add(&mut self, conn: ConnId) {
        if !self.conns.contains(&conn) {
            self.conns.push(conn);
        }
    }

    /// `conn` left MONITOR mode (RESET) or closed.
    pub fn remove(&mut self, conn: ConnId) {
        self.conns.retain(|&c| c != conn);
    }

    /// Whether no client monitors: then nothing is formatted for them.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The monitoring clients, in the order they asked.
    pub fn conns(&self) -> &[ConnId] {
        &self.conns
    }
}

/// What the observability commands read, kept by the server.
#[derive(Debug, Default)]
pub struct Observe {
    /// SLOWLOG's entries.
    pub slowlog: SlowLog,
    /// LATENCY's series.
    pub latency: Latency,
    /// The clients in MONITOR mode.
    pub monitors: Monitors,
    /// For each `cmd::call` under way, outermost first: errors its nested
    /// calls wrote into the same reply, so that each error is counted once,
    /// by the call that wrote it.
    pub(crate) nested_errors: Vec<u64>,
    /// Errors the running script's commands got, already counted: the
    /// script's reply passing one on is not counted again. At most
    /// [`SCRIPT_ERRORS_MAX`], the latest.
    pub(crate) script_errors: Vec<Vec<u8>>,
}

impl Observe {
    /// Remembers an error a script's command got (see `script_errors`).
    pub(crate) fn note_script_error(&mut self, message: &[u8]) {
        if self.script_errors.len() == SCRIPT_ERRORS_MAX {
            self.script_errors.remove(0);
        }
        self.script_errors.push(message.to_vec());
    }
}

/// A MONITOR line, without its `+` and line end: `<unix.micros> [<db>
/// <addr>] "arg" ...`, each argument quoted as Redis's `sdscatrepr` does.
pub fn monitor_line(wall_us: i64, db: usize, addr: &str, argv: &[Vec<u8>]) -> Vec<u8> {
    let mut line = format!(
        "{}.{:06} [{db} {addr}]",
        wall_us.div_euclid(1_000_000),
        wall_us.rem_euclid(1_000_000)
    )
    .into_bytes();
    for arg in argv {
        line.push(b' ');
        repr(&mut line, arg);
    }
    line
}

/// `bytes` quoted: `"` and `\` escaped, `\n \r \t \a \b` by name, other
/// bytes outside printable ASCII as `\xNN`.
pub fn repr(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// Arguments of `name` (a command's full name) as logs and MONITOR may show
/// them: AUTH's, HELLO's AUTH pair and the values of CONFIG SET
/// `requirepass`/`masterauth` become `(redacted)`, as Redis 7 hides them.
pub fn redacted(name: &str, argv: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    const HIDDEN: &[u8] = b"(redacted)";
    let mut hidden = argv.to_vec();
    let mut changed = false;
    match name {
        "auth" => {
            for arg in hidden.iter_mut().skip(1) {
                *arg = HIDDEN.to_vec();
                changed = true;
            }
        }
        "hello" => {
            let mut at = 2;
            while at < hidden.len() {
                if hidden[at].eq_ignore_ascii_case(b"AUTH") && at + 2 < hidden.len() {
                    hidden[at + 1] = HIDDEN.to_vec();
                    hidden[at + 2] = HIDDEN.to_vec();
                    changed = true;
                    at += 3;
                } else {
                    at += 1;
                }
            }
        }
        "config|set" => {
            let mut at = 2;
            while at + 1 < hidden.len() {
                let secret = [&b"requirepass"[..], b"masterauth"]
                    .iter()
                    .any(|s| hidden[at].eq_ignore_ascii_case(s));
                if secret {
                    hidden[at + 1] = HIDDEN.to_vec();
                    changed = true;
                }
                at += 2;
            }
        }
        _ => {}
    }
    changed.then_some(hidden)
}

/// The error code of an error reply's text (`WRONGTYPE` of `WRONGTYPE
/// Operation ...`): its first word, looked for in the first 32 bytes, else
/// `ERR`, as Redis's errorstats names them.
pub fn error_code(message: &[u8]) -> &[u8] {
    let window = &message[..message.len().min(32)];
    match window.iter().position(|&b| b == b' ') {
        Some(end) if end > 0 => &message[..end],
        _ => b"ERR",
    }
}

/// The texts of the error replies in `reply` (RESP2 or RESP3 bytes, one
/// or more whole replies), in order: simple errors and blob errors, at any
/// depth.
pub fn reply_errors(reply: &[u8]) -> Vec<&[u8]> {
    let mut errors = Vec::new();
    let mut at = 0;
    while at < reply.len() {
        let Some(end) = find_crlf(reply, at) else {
            break;
        };
        let line = &reply[at + 1..end];
        let next = end + 2;
        match reply[at] {
            b'-' => {
                errors.push(line);
                at = next;
            }
            b'$' | b'!' | b'=' => {
                let len = std::str::from_utf8(line)
                    .ok()
                    .and_then(|n| n.parse::<i64>().ok())
                    .unwrap_or(-1);
                if len < 0 {
                    at = next;
                    continue;
                }
                let body_end = next + len as usize;
                if reply[at] == b'!' {
                    if let Some(body) = reply.get(next..body_end) {
                        errors.push(body);
                    }
                }
                at = body_end + 2;
            }
            _ => at = next,
        }
    }
    errors
}

fn find_crlf(bytes: &[u8], from: usize) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(2)
        .position(|w| w == b"\r\n")
        .map(|p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments past 32 are summed up in the last one kept, and long ones
    /// are cut at 128 bytes with the count of the rest.
    #[test]
    fn slow_log_arguments_are_shortened_as_redis_does() {
        let argv: Vec<Vec<u8>> = (0..40).map(|i| i.to_string().into_bytes()).collect();
        let short = slow_args(&argv);
        assert_eq!(short.len(), 32);
        assert_eq!(short[31], b"... (9 more arguments)");
        let long = slow_args(&[b"set".to_vec(), vec![b'x'; 130]]);
        assert_eq!(long[1], [&[b'x'; 128][..], b"... (2 more bytes)"].concat());
    }

    /// Errors are found at any depth of a reply, and named by their code.
    #[test]
    fn errors_are_found_in_nested_replies() {
        let reply = b"*3\r\n+OK\r\n-WRONGTYPE Operation\r\n*1\r\n$3\r\n-no\r\n-ERR x\r\n";
        let errors = reply_errors(reply);
        assert_eq!(errors, vec![&b"WRONGTYPE Operation"[..], b"ERR x"]);
        assert_eq!(error_code(b"WRONGTYPE Operation"), b"WRONGTYPE");
        assert_eq!(error_code(b"NOSPACEHERE"), b"ERR");
    }

    /// Calls fall in the bucket of the first power of two (of 1024 ns)
    /// above them; the reply is cumulative, from Redis's bucket bounds.
    #[test]
    fn latency_histogram_buckets() {
        let mut stat = CommandStat::default();
        for us in [0, 1, 1, 2, 15, 16, 17] {
            stat.record_latency(us);
        }
        assert_eq!(
            stat.cumulative_histogram(),
            vec![(1, 3), (2, 4), (16, 6), (32, 7)]
        );
        assert_eq!(stat.percentile_bound_ns(50.0), 2048);
        assert_eq!(stat.percentile_bound_ns(99.9), 32_768);
        assert_eq!(CommandStat::default().percentile_bound_ns(50.0), 0);
    }

    /// Samples in one second keep the worst; the ring keeps the newest.
    #[test]
    fn latency_series_merge_a_second_and_wrap() {
        let mut latency = Latency::default();
        latency.add_if_needed(10, "command", 5, 100);
        assert!(latency.series(b"command").is_none(), "under the threshold");
        latency.add_if_needed(10, "command", 20, 100);
        latency.add_if_needed(10, "command", 30, 100);
        latency.add_if_needed(10, "command", 15, 100);
        let series = latency.series(b"command").unwrap();
        assert_eq!(series.history().len(), 1);
        assert_eq!(series.latest().latency_ms, 30);
        for s in 0..200 {
            latency.add_if_needed(10, "command", 11, 200 + s);
        }
        let series = latency.series(b"command").unwrap();
        assert_eq!(series.history().len(), LATENCY_SAMPLES_MAX);
        assert_eq!(series.history()[0].time_s, 240);
        assert_eq!(series.max_ms, 30);
    }
}
