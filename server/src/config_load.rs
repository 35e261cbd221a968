//! Building the start-up `Config` the way redis-server does.
//!
//! The text is the config file (with its `include`s expanded here, since
//! core reads no files), then standard input if `-` was given, then the
//! command-line directives, each conceptually one more line after them; so
//! an error in `--port x` reports the line Redis would report. Core parses
//! and checks every directive (`Config::apply_file_text`,
//! `Config::apply_startup`); this module only reads files and formats
//! Redis's fatal error.

use std::io::Read;

use redoubt_core::config::FileError;
use redoubt_core::{Config, REDIS_VERSION};

/// How deep `include` may nest before the file is refused.
const INCLUDE_DEPTH_MAX: usize = 16;

/// One `--directive value...` from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLineDirective {
    pub name: String,
    pub values: Vec<String>,
}

/// Where the configuration comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigSources {
    pub file: Option<String>,
    /// `-`: read directives from standard input after the file.
    pub stdin: bool,
    pub directives: Vec<CommandLineDirective>,
}

/// Why the configuration could not be built: the text to print on stderr
/// before exiting with status 1.
#[derive(Debug)]
pub struct Fatal(pub String);

/// The loaded configuration and what start-up should report about it.
pub struct Loaded {
    pub config: Config,
    /// Directives set to a non-default value that core keeps only as text.
    pub not_implemented: Vec<String>,
}

/// Reads the sources and applies them to a default `Config`.
pub fn load(sources: &ConfigSources) -> Result<Loaded, Fatal> {
    let mut config = Config::default();
    config.launch_dir = std::env::current_dir()
        .map(|dir| dir.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut applied = Vec::new();
    let mut text = String::new();
    if let Some(path) = &sources.file {
        text = read_file(path)?;
        config.config_file = absolute(path);
    }
    if sources.stdin {
        let mut input = String::new();
        std::io::stdin()
            .read_to_string(&mut input)
            .map_err(|e| Fatal(format!("Fatal error, can't read config from stdin: {e}")))?;
        text.push_str(&input);
    }
    apply_text(&mut config, &text, 0, 0, &mut applied).map_err(fatal_file_error)?;
    let first_directive_line = text.matches('\n').count() + 2;
    for (index, directive) in sources.directives.iter().enumerate() {
        apply_directive(&mut config, directive).map_err(|reason| {
            fatal_file_error(FileError {
                line: first_directive_line + index,
                text: directive_line(directive),
                reason,
            })
        })?;
        applied.push(directive.name.to_ascii_lowercase());
    }
    let not_implemented = not_implemented(&config, applied);
    Ok(Loaded {
        config,
        not_implemented,
    })
}

fn apply_directive(config: &mut Config, directive: &CommandLineDirective) -> Result<(), String> {
    let is_save = directive.name.eq_ignore_ascii_case("save");
    let takes_words = directive.name.eq_ignore_ascii_case("rename-command");
    if directive.values.is_empty() && !is_save && !takes_words {
        return Err("wrong number of arguments".to_string());
    }
    if directive.name.eq_ignore_ascii_case("dir") {
        working_dir_error(&directive.values.join(" "))?;
    }
    config
        .apply_startup_words(&directive.name, &directive.values)
        .map_err(|e| e.0)
}

/// Why `dir` cannot be the working directory, in the words of the
/// `chdir(2)` error Redis prints: a server started on a missing directory
/// could neither save nor, then, shut down.
pub fn working_dir_error(dir: &str) -> Result<(), String> {
    match std::fs::metadata(dir) {
        Ok(metadata) if metadata.is_dir() => Ok(()),
        Ok(_) => Err("Not a directory".to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err("No such file or directory".to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            Err("Permission denied".to_string())
        }
        Err(e) => Err(e.to_string()),
    }
}

fn read_file(path: &str) -> Result<String, Fatal> {
    let bytes = std::fs::read(path).map_err(|e| {
        Fatal(format!(
            "Fatal error, can't open config file '{path}': {}",
            os_error_text(&e)
        ))
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The error text without Rust's " (os error N)" suffix, as strerror says it.
fn os_error_text(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn absolute(path: &str) -> String {
    std::fs::canonicalize(path)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string())
}

/// Applies config text, expanding `include path` lines in place. `line_base`
/// is added to error line numbers.
fn apply_text(
    config: &mut Config,
    text: &str,
    line_base: usize,
    depth: usize,
    applied: &mut Vec<String>,
) -> Result<(), FileError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut segment_start = 0;
    for (index, line) in lines.iter().enumerate() {
        let mut words = line.split_whitespace();
        if !words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("include"))
        {
            continue;
        }
        let segment = lines[segment_start..index].join("\n");
        apply_segment(config, &segment, line_base + segment_start, applied)?;
        segment_start = index + 1;
        let error = |reason: String| FileError {
            line: line_base + index + 1,
            text: line.to_string(),
            reason,
        };
        let (Some(path), None) = (words.next(), words.next()) else {
            return Err(error("wrong number of arguments".to_string()));
        };
        if depth >= INCLUDE_DEPTH_MAX {
            return Err(error("include nested too deeply".to_string()));
        }
        let included = std::fs::read(path)
            .map_err(|e| error(format!("Error including '{path}': {}", os_error_text(&e))))?;
        apply_text(
            config,
            &String::from_utf8_lossy(&included),
            0,
            depth + 1,
            applied,
        )?;
    }
    let segment = lines[segment_start..].join("\n");
    apply_segment(config, &segment, line_base + segment_start, applied)
}

fn apply_segment(
    config: &mut Config,
    text: &str,
    line_base: usize,
    applied: &mut Vec<String>,
) -> Result<(), FileError> {
    match config.apply_file_text(text) {
        Ok(names) => {
            applied.extend(names);
            Ok(())
        }
        Err(mut error) => {
            error.line += line_base;
            Err(error)
        }
    }
}

/// The directives, in the order first set, that core does not act on and
/// that were given a value other than Redis's default.
fn not_implemented(config: &Config, applied: Vec<String>) -> Vec<String> {
    let defaults = Config::default();
    let mut names: Vec<String> = Vec::new();
    for name in applied {
        if Config::is_active(&name) || names.contains(&name) {
            continue;
        }
        if config.get(&name) != defaults.get(&name) {
            names.push(name);
        }
    }
    names
}

/// Redis's fatal configuration error.
fn fatal_file_error(error: FileError) -> Fatal {
    Fatal(format!(
        "\n*** FATAL CONFIG FILE ERROR (Redis {REDIS_VERSION}) ***\n\
         Reading the configuration file, at line {}\n\
         >>> '{}'\n\
         {}",
        error.line,
        error.text.trim(),
        error.reason
    ))
}

/// The line a command-line directive stands for, quoted as Redis shows it:
/// `save "900 1"`.
fn directive_line(directive: &CommandLineDirective) -> String {
    let mut line = directive.name.clone();
    for value in &directive.values {
        line.push(' ');
        line.push_str(&quote(value));
    }
    line
}

/// Redis's `sdscatrepr` of `value` (see `observe::repr`).
fn quote(value: &str) -> String {
    let mut quoted = Vec::new();
    redoubt_core::observe::repr(&mut quoted, value.as_bytes());
    // Every byte outside printable ASCII is escaped: the text is ASCII.
    String::from_utf8_lossy(&quoted).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(name: &str, values: &[&str]) -> CommandLineDirective {
        CommandLineDirective {
            name: name.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    // An unknown command-line directive is reported at the line Redis reports.
    #[test]
    fn unknown_directive_line_matches_redis() {
        let sources = ConfigSources {
            directives: vec![directive("port", &["16399"]), directive("foo", &["bar"])],
            ..ConfigSources::default()
        };
        let Err(Fatal(text)) = load(&sources) else {
            panic!("unknown directive accepted");
        };
        assert!(
            text.contains("at line 3\n>>> 'foo \"bar\"'\nBad directive"),
            "{text}"
        );
    }

    // `--rename-command old new` keeps its two words; an empty new name
    // disables; a wrong count is Redis's error.
    #[test]
    fn rename_command_from_the_command_line() {
        let sources = ConfigSources {
            directives: vec![
                directive("rename-command", &["set", "myset"]),
                directive("rename-command", &["flushall", ""]),
            ],
            ..ConfigSources::default()
        };
        let config = load(&sources).unwrap().config;
        let renames: Vec<(&str, &str)> = config
            .renamed_commands
            .iter()
            .map(|r| (r.original, r.name.as_str()))
            .collect();
        assert_eq!(renames, vec![("set", "myset"), ("flushall", "")]);
        let sources = ConfigSources {
            directives: vec![directive("rename-command", &["set"])],
            ..ConfigSources::default()
        };
        let Err(Fatal(text)) = load(&sources) else {
            panic!("one word accepted");
        };
        assert!(
            text.contains(
                ">>> 'rename-command \"set\"'\nBad directive or wrong number of arguments"
            ),
            "{text}"
        );
    }

    // A directive with no value at all is refused; `--save` alone clears.
    #[test]
    fn missing_value() {
        let sources = ConfigSources {
            directives: vec![directive("port", &[])],
            ..ConfigSources::default()
        };
        assert!(load(&sources).is_err());
        let sources = ConfigSources {
            directives: vec![directive("save", &[])],
            ..ConfigSources::default()
        };
        assert!(load(&sources).unwrap().config.save.is_empty());
    }

    // Passive directives changed from their default are named.
    #[test]
    fn names_passive_directives() {
        let sources = ConfigSources {
            directives: vec![
                directive("maxmemory", &["100mb"]),
                directive("lazyfree-lazy-expire", &["yes"]),
                directive("daemonize", &["no"]),
                directive("port", &["7000"]),
            ],
            ..ConfigSources::default()
        };
        let loaded = load(&sources).unwrap();
        assert_eq!(
            loaded.not_implemented,
            vec!["lazyfree-lazy-expire".to_string()]
        );
        assert_eq!(loaded.config.port, 7000);
        assert_eq!(loaded.config.memory.maxmemory_bytes, 100 << 20);
    }
}
