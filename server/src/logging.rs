//! The log sink, in Redis's format, through `tracing`.
//!
//! Every line reads `PID:R DD Mon YYYY HH:MM:SS.mmm L message`, where `R` is
//! the role (`C` while starting up, as Redis prints before it knows its pid,
//! then `M`) and `L` the level: `.` debug, `-` verbose, `*` notice, `#`
//! warning. Redis's four levels map onto tracing's as debug → TRACE,
//! verbose → DEBUG, notice → INFO, warning → WARN. The level (`loglevel`)
//! can change at run time (`CONFIG SET loglevel`); the sink (`logfile`,
//! empty meaning stdout) is fixed at start-up, as in Redis.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::sync::Mutex;

use redoubt_core::env::LogLevel;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Lowest level printed, as a `LogLevel` discriminant; `LEVEL_NOTHING`
/// prints nothing (`loglevel nothing`).
static LEVEL_MIN: AtomicU8 = AtomicU8::new(LogLevel::Notice as u8);
const LEVEL_NOTHING: u8 = u8::MAX;
/// The role character of every line.
static ROLE: AtomicU8 = AtomicU8::new(b'C');

/// Writes one log line at `level`.
pub fn log(level: LogLevel, message: &str) {
    match level {
        LogLevel::Debug => tracing::trace!("{message}"),
        LogLevel::Verbose => tracing::debug!("{message}"),
        LogLevel::Notice => tracing::info!("{message}"),
        LogLevel::Warning => tracing::warn!("{message}"),
    }
}

/// Switches the role character from `C` (starting) to `M` (master).
pub fn set_role_master() {
    ROLE.store(b'M', Ordering::Relaxed);
}

/// Switches the role character between `M` (master) and `S` (replica).
pub fn set_role_replica(replica: bool) {
    ROLE.store(if replica { b'S' } else { b'M' }, Ordering::Relaxed);
}

/// Applies a `loglevel` value (`debug`, `verbose`, `notice`, `warning`,
/// `nothing`); unknown text leaves the level as it was.
pub fn set_level(name: &str) {
    let level = match name {
        "debug" => LogLevel::Debug as u8,
        "verbose" => LogLevel::Verbose as u8,
        "notice" => LogLevel::Notice as u8,
        "warning" => LogLevel::Warning as u8,
        "nothing" => LEVEL_NOTHING,
        _ => return,
    };
    LEVEL_MIN.store(level, Ordering::Relaxed);
}

fn redis_level(level: &Level) -> LogLevel {
    match *level {
        Level::TRACE => LogLevel::Debug,
        Level::DEBUG => LogLevel::Verbose,
        Level::INFO => LogLevel::Notice,
        _ => LogLevel::Warning,
    }
}

fn level_char(level: LogLevel) -> char {
    match level {
        LogLevel::Debug => '.',
        LogLevel::Verbose => '-',
        LogLevel::Notice => '*',
        LogLevel::Warning => '#',
    }
}

/// Installs the global subscriber. `logfile` empty means stdout; otherwise
/// the file is opened for appending, and an error opening it is returned
/// (Redis refuses to start then).
pub fn init(loglevel: &str, logfile: &str) -> io::Result<()> {
    set_level(loglevel);
    let sink = if logfile.is_empty() {
        Sink::Stdout
    } else {
        let file = OpenOptions::new().create(true).append(true).open(logfile)?;
        Sink::File(Arc::new(Mutex::new(file)))
    };
    let filter = filter_fn(|metadata| {
        let min = LEVEL_MIN.load(Ordering::Relaxed);
        min != LEVEL_NOTHING && redis_level(metadata.level()) as u8 >= min
    });
    let layer = tracing_subscriber::fmt::layer()
        .event_format(RedisFormat {
            pid: std::process::id(),
        })
        .with_writer(sink)
        .with_filter(filter);
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| io::Error::new(io::ErrorKind::AlreadyExists, e.to_string()))
}

/// Where lines go.
#[derive(Clone)]
enum Sink {
    Stdout,
    File(Arc<Mutex<File>>),
}

/// A writer for one line; files are written under their lock.
enum SinkWriter {
    Stdout(io::Stdout),
    File(Arc<Mutex<File>>),
}

impl Write for SinkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            SinkWriter::Stdout(out) => out.write(buf),
            SinkWriter::File(file) => match file.lock() {
                Ok(mut file) => file.write(buf),
                Err(_) => Ok(buf.len()),
            },
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            SinkWriter::Stdout(out) => out.flush(),
            SinkWriter::File(_) => Ok(()),
        }
    }
}

impl<'a> MakeWriter<'a> for Sink {
    type Writer = SinkWriter;
    fn make_writer(&'a self) -> SinkWriter {
        match self {
            Sink::Stdout => SinkWriter::Stdout(io::stdout()),
            Sink::File(file) => SinkWriter::File(Arc::clone(file)),
        }
    }
}

/// Formats an event as one Redis log line.
struct RedisFormat {
    pid: u32,
}

impl<S, N> FormatEvent<S, N> for RedisFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let role = ROLE.load(Ordering::Relaxed) as char;
        let level = level_char(redis_level(event.metadata().level()));
        write!(
            writer,
            "{}:{} {} {} ",
            self.pid,
            role,
            local_timestamp(),
            level
        )?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Local time as Redis prints it: `21 Nov 2026 23:10:40.123`.
fn local_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let seconds = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r only writes the `tm` we own; a zeroed `tm` is a
    // valid value of that plain C struct.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&seconds, &mut tm).is_null() {
            return format!("{}", now.as_secs());
        }
        tm
    };
    let month = MONTHS.get(tm.tm_mon as usize).copied().unwrap_or("???");
    format!(
        "{:02} {} {} {:02}:{:02}:{:02}.{:03}",
        tm.tm_mday,
        month,
        tm.tm_year + 1900,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        now.subsec_millis()
    )
}
