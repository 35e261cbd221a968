//! `redoubt-check-rdb <file>`: checks an RDB dump offline, with the output
//! and exit codes of Redis 7.0's `redis-check-rdb` (0 when the dump is
//! sound, 1 otherwise), through core's `RdbReader`.

#[path = "check/rdb_check.rs"]
mod rdb_check;

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let program = args.first().map_or("redoubt-check-rdb", String::as_str);
    if args.len() != 2 {
        eprintln!("Usage: {program} <rdb-file-name>");
        return ExitCode::FAILURE;
    }
    let name = &args[1];
    if name == "-v" || name == "--version" {
        rdb_check::say(&format!(
            "redoubt-check-rdb {} (redis-check-rdb {})",
            redoubt_core::REDOUBT_VERSION,
            redoubt_core::REDIS_VERSION
        ));
        return ExitCode::SUCCESS;
    }
    match rdb_check::check_rdb(Path::new(name), name) {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::FAILURE,
    }
}
