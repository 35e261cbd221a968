//! redoubt-server: the production driver, a drop-in for redis-server.
//!
//! `redoubt-server [/path/to/redis.conf] [--directive value ...] [-]`, read
//! exactly as redis-server reads its command line. This file parses the
//! arguments and runs start-up in Redis's order; the rest is split by what
//! it owns:
//!
//! * [`config_load`]: the config file, stdin and `--directive`s into core's
//!   `Config`, and Redis's fatal config error;
//! * [`logging`]: Redis's log format through `tracing`;
//! * [`env`]: `RealEnv`, core's `Env` over the operating system, with
//!   [`bio`] (the background fsync thread) and [`memory`] (the counting
//!   allocator behind `used_memory`);
//! * [`event_loop`]: the one mio loop that turns readiness into core's
//!   events;
//! * [`listeners`]: the listening sockets (replaced at run time by
//!   `CONFIG SET port` / `bind`), the Unix-domain one, and the mio tokens
//!   of every source.
//!
//! Start-up as Redis's: with `daemonize yes` the process forks and detaches
//! (new session, standard streams on /dev/null) before its first log line;
//! then the pid file is written if one is set, or at Redis's default path
//! when daemonized, and removed at a clean exit.
//!
//! Every decision (what to reply, when to fsync) is core's; the driver only
//! performs what core asks and reports what happened.

mod bio;
mod busy;
mod config_load;
mod env;
mod event_loop;
mod listeners;
mod logging;
mod memory;
mod pipes;

use std::process::ExitCode;

use config_load::{CommandLineDirective, ConfigSources};
use redoubt_core::env::LogLevel;
use redoubt_core::{REDIS_VERSION, REDOUBT_VERSION};

#[global_allocator]
static ALLOCATOR: memory::CountingAllocator = memory::CountingAllocator;

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Invocation {
    Version,
    Help,
    Run(ConfigSources),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args) {
        Invocation::Version => {
            println!(
                "Redis server v={REDIS_VERSION} sha=00000000:0 malloc=libc bits=64 \
                 build=redoubt-{REDOUBT_VERSION}"
            );
            ExitCode::SUCCESS
        }
        Invocation::Help => {
            eprint!("{}", usage());
            ExitCode::FAILURE
        }
        Invocation::Run(sources) => run(&sources, args.is_empty()),
    }
}

fn run(sources: &ConfigSources, no_arguments: bool) -> ExitCode {
    let loaded = match config_load::load(sources) {
        Ok(loaded) => loaded,
        Err(config_load::Fatal(text)) => {
            eprintln!("{text}");
            return ExitCode::FAILURE;
        }
    };
    let config = loaded.config;
    // A `dir` from a config file (the command line's is checked in place).
    if let Err(why) = config_load::working_dir_error(&config.dir) {
        eprintln!("Can't chdir to '{}': {why}", config.dir);
        return ExitCode::FAILURE;
    }
    let daemonize = config.get("daemonize").as_deref() == Some("yes");
    if daemonize {
        if let Err(e) = detach() {
            eprintln!("Can't daemonize: {e}");
            return ExitCode::FAILURE;
        }
    }
    if let Err(e) = logging::init(&config.loglevel, &config.logfile) {
        eprintln!("Can't open the log file: {e}");
        return ExitCode::FAILURE;
    }
    log_start(no_arguments, &loaded.not_implemented);
    let pidfile = pidfile_path(&config, daemonize);
    if let Some(path) = &pidfile {
        write_pidfile(path);
    }
    match event_loop::run(config, pidfile) {
        Ok(()) => ExitCode::SUCCESS,
        Err(event_loop::Aborted) => ExitCode::FAILURE,
    }
}

/// Where the pid file goes: `pidfile` if set, else Redis's default when
/// daemonized, else nowhere.
fn pidfile_path(config: &redoubt_core::Config, daemonize: bool) -> Option<String> {
    match config.get("pidfile").unwrap_or_default() {
        path if !path.is_empty() => Some(path),
        _ if daemonize => Some(DEFAULT_PIDFILE.to_string()),
        _ => None,
    }
}

/// Redis's pid file when daemonized without `pidfile` (CONFIG_DEFAULT_PID_FILE).
const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

/// Writes our pid and a newline to `path`; a failure is logged, not fatal,
/// as in Redis.
fn write_pidfile(path: &str) {
    let pid = format!("{}\n", std::process::id());
    if let Err(e) = std::fs::write(path, pid) {
        let reason = e.to_string();
        let reason = reason.split(" (os error").next().unwrap_or_default();
        logging::log(
            LogLevel::Warning,
            &format!("Failed to write PID file: {reason}"),
        );
    }
}

/// Redis's `daemonize`: the parent exits at once; the child starts a new
/// session and puts its standard streams on /dev/null. Called before any
/// thread is started, as `fork` requires.
fn detach() -> std::io::Result<()> {
    // SAFETY: the process has one thread here (nothing has spawned one
    // yet), so the child is a complete copy; the parent only exits.
    match unsafe { libc::fork() } {
        -1 => return Err(std::io::Error::last_os_error()),
        0 => {}
        _ => std::process::exit(0),
    }
    // SAFETY: setsid takes no pointers; it fails only if we already lead a
    // process group, which a fresh child does not.
    unsafe { libc::setsid() };
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..=2 {
        // SAFETY: both descriptors are open and owned by this process;
        // dup2 replaces the standard stream with /dev/null.
        if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), fd) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Redis's first log lines, then which directives are accepted but inert.
fn log_start(no_arguments: bool, not_implemented: &[String]) {
    let warning = |message: &str| logging::log(LogLevel::Warning, message);
    warning("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
    warning(&format!(
        "Redis version={REDIS_VERSION}, bits=64, commit=00000000, modified=0, pid={}, just started",
        std::process::id()
    ));
    warning(&format!(
        "redoubt version={REDOUBT_VERSION}, a Redis-compatible server (sans-IO core, mio driver)"
    ));
    if no_arguments {
        warning(
            "Warning: no config file specified, using the default config. In order to specify \
             a config file use redoubt-server /path/to/redis.conf",
        );
    } else {
        warning("Configuration loaded");
    }
    if !not_implemented.is_empty() {
        warning(&format!(
            "WARNING these directives are accepted but not implemented by redoubt, and have no \
             effect: {}",
            not_implemented.join(", ")
        ));
    }
}

/// Reads the command line as redis-server's `main` does: an optional config
/// file first, `-` (first or last) for stdin, then `--name value...`, where
/// the word after a bare `--name` is always its value and `--save` with no
/// value means `save ""`.
fn parse_args(args: &[String]) -> Invocation {
    match args.first().map(String::as_str) {
        Some("-v" | "--version") => return Invocation::Version,
        Some("-h" | "--help") => return Invocation::Help,
        _ => {}
    }
    let mut sources = ConfigSources::default();
    let mut next = 0;
    if let Some(first) = args.first().filter(|a| !a.starts_with('-')) {
        sources.file = Some(first.clone());
        next = 1;
    }
    let mut name_awaits_value = false;
    for index in next..args.len() {
        let arg = &args[index];
        let is_last = index + 1 == args.len();
        if arg == "-" && (index == 0 || is_last) {
            sources.stdin = true;
        } else if let Some(rest) = arg.strip_prefix("--").filter(|_| !name_awaits_value) {
            let mut words = rest.split_whitespace().map(str::to_string);
            let name = words.next().unwrap_or_default();
            let values: Vec<String> = words.collect();
            let next_is_name = args.get(index + 1).is_some_and(|a| a.starts_with("--"));
            name_awaits_value = values.is_empty()
                && !(name.eq_ignore_ascii_case("save") && (next_is_name || is_last));
            sources
                .directives
                .push(CommandLineDirective { name, values });
        } else {
            name_awaits_value = false;
            match sources.directives.last_mut() {
                Some(directive) => directive.values.push(arg.clone()),
                None => sources.directives.push(CommandLineDirective {
                    name: arg.clone(),
                    values: Vec::new(),
                }),
            }
        }
    }
    Invocation::Run(sources)
}

fn usage() -> String {
    "Usage: ./redoubt-server [/path/to/redis.conf] [options] [-]\n\
     \x20      ./redoubt-server - (read config from stdin)\n\
     \x20      ./redoubt-server -v or --version\n\
     \x20      ./redoubt-server -h or --help\n\
     \n\
     Examples:\n\
     \x20      ./redoubt-server (run the server with default conf)\n\
     \x20      echo 'maxmemory 128mb' | ./redoubt-server -\n\
     \x20      ./redoubt-server /etc/redis/6379.conf\n\
     \x20      ./redoubt-server --port 7777\n\
     \x20      ./redoubt-server /etc/myredis.conf --loglevel verbose -\n\
     \x20      ./redoubt-server /etc/myredis.conf --loglevel verbose\n\
     \n\
     Directives core does not act on are accepted, kept for CONFIG GET, and\n\
     named in a warning at start-up.\n"
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ConfigSources {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        match parse_args(&args) {
            Invocation::Run(sources) => sources,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn pairs(sources: &ConfigSources) -> Vec<(String, Vec<String>)> {
        sources
            .directives
            .iter()
            .map(|d| (d.name.clone(), d.values.clone()))
            .collect()
    }

    // The file, stdin and multi-word values are read as redis-server reads them.
    #[test]
    fn reads_like_redis() {
        let sources = parse(&["/etc/r.conf", "--save", "900", "1", "--port", "7000", "-"]);
        assert_eq!(sources.file.as_deref(), Some("/etc/r.conf"));
        assert!(sources.stdin);
        assert_eq!(
            pairs(&sources),
            vec![
                ("save".to_string(), vec!["900".to_string(), "1".to_string()]),
                ("port".to_string(), vec!["7000".to_string()]),
            ]
        );
    }

    // `--save` followed by another name is `save ""`; a bare name takes the next word.
    #[test]
    fn bare_names() {
        let sources = parse(&["--save", "--requirepass", "--x", "--port 7000"]);
        assert_eq!(
            pairs(&sources),
            vec![
                ("save".to_string(), vec![]),
                ("requirepass".to_string(), vec!["--x".to_string()]),
                ("port".to_string(), vec!["7000".to_string()]),
            ]
        );
    }

    // The pid file: as set, Redis's default when daemonized, else none.
    #[test]
    fn pidfile_paths() {
        let mut config = redoubt_core::Config::default();
        assert_eq!(pidfile_path(&config, false), None);
        assert_eq!(
            pidfile_path(&config, true).as_deref(),
            Some("/var/run/redis.pid")
        );
        config.apply_startup("pidfile", "/tmp/x.pid").unwrap();
        assert_eq!(pidfile_path(&config, false).as_deref(), Some("/tmp/x.pid"));
        assert_eq!(pidfile_path(&config, true).as_deref(), Some("/tmp/x.pid"));
    }

    // Version and help are recognised only first.
    #[test]
    fn version_and_help() {
        assert_eq!(parse_args(&["-v".to_string()]), Invocation::Version);
        assert_eq!(parse_args(&["--help".to_string()]), Invocation::Help);
    }
}
