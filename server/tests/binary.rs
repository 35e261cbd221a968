//! Makes `cargo test` build the `redoubt-server` binary, which the
//! workspace integration tests in `tests/` start as a process.

use std::process::Command;

// The binary runs and answers `--version` the way redis-server does.
#[test]
fn version_names_the_redis_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_redoubt-server"))
        .arg("--version")
        .output()
        .expect("run redoubt-server --version");
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("Redis server v=7.0.15 "), "{text}");
}
