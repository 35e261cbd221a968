//! `redoubt-sim`: run one seed and print its report, or run a swarm of
//! seeds and print a summary. Exits non-zero when any run fails.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use redoubt_sim::run::scenario::Scenario;
use redoubt_sim::run::swarm::{parse_seed_range, run_swarm};
use redoubt_sim::run_seed;

#[derive(Parser)]
#[command(
    name = "redoubt-sim",
    about = "Deterministic simulation of redoubt under a seed"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one seed and prints its report.
    Run {
        #[arg(long)]
        seed: u64,
        /// A scenario file (TOML); the built-in smoke scenario otherwise.
        #[arg(long)]
        scenario: Option<String>,
        /// Print every event (requests, replies, faults, crashes, restarts)
        /// with its simulated time to stderr before the report.
        #[arg(long)]
        trace: bool,
    },
    /// Shrinks a failing seed to a small scenario file that replays it:
    /// explicit faults and client scripts, with what is not needed for the
    /// failure removed.
    Shrink {
        #[arg(long)]
        seed: u64,
        #[arg(long)]
        scenario: Option<String>,
        /// Where to write the shrunk scenario (default: shrunk-NAME-SEED.toml).
        #[arg(long)]
        out: Option<String>,
    },
    /// Runs many seeds and prints a summary with the simulator's speed.
    Swarm {
        /// `A..B` (B excluded) or `A..=B`.
        #[arg(long)]
        seeds: String,
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        #[arg(long)]
        scenario: Option<String>,
    },
}

fn load_scenario(path: Option<&str>) -> Result<Scenario, String> {
    match path {
        None => Ok(Scenario::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
            Scenario::parse(&text).map_err(|e| format!("{path}: {e}"))
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run {
            seed,
            scenario,
            trace,
        } => {
            if trace {
                install_trace();
            }
            run_one(seed, scenario.as_deref())
        }
        Command::Shrink {
            seed,
            scenario,
            out,
        } => shrink(seed, scenario.as_deref(), out.as_deref()),
        Command::Swarm {
            seeds,
            jobs,
            scenario,
        } => swarm(&seeds, jobs, scenario.as_deref()),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("redoubt-sim: {error}");
            ExitCode::from(2)
        }
    }
}

/// Prints the simulator's trace lines to stderr, as they are.
fn install_trace() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::DEBUG)
        .without_time()
        .with_target(false)
        .with_level(false)
        .init();
}

fn run_one(seed: u64, scenario_path: Option<&str>) -> Result<bool, String> {
    let scenario = load_scenario(scenario_path)?;
    let report = run_seed(seed, &scenario, scenario_path)?;
    print!("{}", report.render());
    Ok(report.passed())
}

fn shrink(seed: u64, scenario_path: Option<&str>, out: Option<&str>) -> Result<bool, String> {
    let scenario = load_scenario(scenario_path)?;
    let shrunk = redoubt_sim::run::shrink::shrink(seed, &scenario)?;
    let path = out.map_or_else(
        || format!("shrunk-{}-{seed}.toml", scenario.name),
        str::to_string,
    );
    std::fs::write(&path, &shrunk.text).map_err(|e| format!("{path}: {e}"))?;
    let steps: usize = shrunk
        .scenario
        .workload
        .scripts
        .iter()
        .map(|s| s.steps.len())
        .sum();
    println!(
        "shrunk seed {seed} in {} runs: still fails {}; {} faults, {} clients, {steps} batches",
        shrunk.runs,
        shrunk.failing.join(", "),
        shrunk.scenario.faults.schedule.len(),
        shrunk.scenario.workload.scripts.len()
    );
    println!("written to {path}");
    println!("replay: cargo run --release -p redoubt-sim -- run --seed {seed} --scenario {path}");
    Ok(true)
}

fn swarm(seeds: &str, jobs: usize, scenario_path: Option<&str>) -> Result<bool, String> {
    let scenario = load_scenario(scenario_path)?;
    let seeds = parse_seed_range(seeds)?;
    let summary = run_swarm(seeds, jobs, &scenario, scenario_path);
    print!("{}", summary.render());
    Ok(summary.failures.is_empty())
}
