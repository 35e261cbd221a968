//! `redoubt-sim`: run one seed and print its report; run a swarm of seeds
//! (or one shard of them) and print a summary, with JSON and JUnit reports
//! if asked; or merge the JSON reports of shards. The work lives in the
//! library; this file reads the command line and picks the exit code.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use redoubt_sim::report::html::render_html;
use redoubt_sim::report::json::SwarmReport;
use redoubt_sim::report::junit::junit_xml;
use redoubt_sim::report::merge::{merge, MergeInput};
use redoubt_sim::run::scenario_files::{load_scenario_file, load_scenarios, ScenarioSource};
use redoubt_sim::run::swarm::{
    run_swarm, stop_on_interrupt, SeedRange, Shard, SwarmPlan, JOBS_MAX,
};
use redoubt_sim::run_seed_with;

/// The simulator allocates and frees small buffers for every request,
/// reply and trace event; with mimalloc a swarm runs about a quarter
/// faster than with the system allocator (`bench/sim.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EXIT_CODES: &str = "\
Exit codes:
  0    every run passed
  1    some run failed: a checker it requires failed, or it panicked
  2    usage or configuration error: bad arguments, an unreadable or invalid
       scenario file, a bad node.config line; for merge, also an unreadable
       report, a seed or shard present twice, a missing shard, or a shard
       that was stopped early (for the last two, the merged summary is still
       printed and the reports written)
  130  the swarm was stopped by Ctrl-C (SIGINT) or SIGTERM: the runs under way
       finished, the partial summary was printed and the reports written.
       A second Ctrl-C ends it at once.";

#[derive(Parser)]
#[command(
    name = "redoubt-sim",
    about = "Deterministic simulation of redoubt under a seed",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one seed and prints its report.
    #[command(after_help = EXIT_CODES)]
    Run {
        #[arg(long)]
        seed: u64,
        /// A scenario file (TOML); the built-in default scenario otherwise.
        #[arg(long, value_name = "FILE")]
        scenario: Option<String>,
        /// Print every event (requests, replies, node log lines, faults,
        /// crashes, restarts) with its simulated time to stderr before the
        /// report.
        #[arg(long)]
        trace: bool,
        /// Write the run's timeline as a self-contained HTML page to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<String>,
    },
    /// Shrinks a failing seed to a small scenario file that replays it:
    /// explicit faults and client scripts, with what the failure does not
    /// need removed.
    #[command(after_help = EXIT_CODES)]
    Shrink {
        #[arg(long)]
        seed: u64,
        #[arg(long, value_name = "FILE")]
        scenario: Option<String>,
        /// Where to write the shrunk scenario [default: shrunk-NAME-SEED.toml].
        #[arg(long, value_name = "FILE")]
        out: Option<String>,
    },
    /// Runs many seeds, or one shard of them, under one or more scenarios,
    /// and prints a summary by scenario, guarantee and fault kind, with the
    /// replay command of every failure.
    #[command(after_help = EXIT_CODES)]
    Swarm(SwarmArgs),
    /// Joins the JSON reports of a campaign's shards into one and prints
    /// the summary one swarm over all of them would have printed.
    #[command(after_help = EXIT_CODES)]
    Merge(MergeArgs),
}

#[derive(Args)]
struct SwarmArgs {
    /// The seeds: `A..B` (B excluded) or `A..=B` (B included).
    #[arg(long, value_name = "A..B")]
    seeds: String,
    /// A scenario file, or a directory (every *.toml in it, sorted by
    /// name). Repeat for several; each runs every seed. Without it, the
    /// built-in default scenario.
    #[arg(long = "scenario", value_name = "FILE|DIR")]
    scenarios: Vec<String>,
    /// Threads running seeds [default: the machine's cores].
    #[arg(long, value_name = "J", value_parser = clap::value_parser!(u64).range(1..=JOBS_MAX as u64))]
    jobs: Option<u64>,
    /// Runs only shard I (counted from 0) of N: the I-th of N contiguous
    /// blocks of the seeds, whose sizes differ by one at most. The N shards
    /// of a range run every seed once.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Writes the JSON report (for `redoubt-sim merge`) to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Writes a JUnit XML report to FILE: one testsuite per scenario, one
    /// testcase per seed.
    #[arg(long, value_name = "FILE")]
    junit: Option<String>,
}

#[derive(Args)]
struct MergeArgs {
    /// JSON reports written by `swarm --json`, or by an earlier merge.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
    /// Writes the merged JSON report to OUT.
    #[arg(long, value_name = "OUT")]
    json: Option<String>,
    /// Writes the merged JUnit XML report to OUT.
    #[arg(long, value_name = "OUT")]
    junit: Option<String>,
}

/// How the process ends.
enum Exit {
    Passed,
    Failed,
    /// A merge with a gap: a shard missing or stopped early.
    Incomplete,
    Interrupted,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run {
            seed,
            scenario,
            trace,
            html,
        } => {
            if trace {
                install_trace();
            }
            run_one(seed, scenario.as_deref(), html.as_deref())
        }
        Command::Shrink {
            seed,
            scenario,
            out,
        } => shrink(seed, scenario.as_deref(), out.as_deref()),
        Command::Swarm(args) => swarm(&args),
        Command::Merge(args) => merge_reports(&args),
    };
    match outcome {
        Ok(Exit::Passed) => ExitCode::SUCCESS,
        Ok(Exit::Failed) => ExitCode::FAILURE,
        Ok(Exit::Incomplete) => ExitCode::from(2),
        Ok(Exit::Interrupted) => ExitCode::from(130),
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

fn run_one(seed: u64, scenario_path: Option<&str>, html: Option<&str>) -> Result<Exit, String> {
    let source = match scenario_path {
        Some(path) => load_scenario_file(path)?,
        None => ScenarioSource::built_in(),
    };
    let report = run_seed_with(seed, &source.scenario, scenario_path, html.is_some())
        .map_err(|error| source.start_error(seed, &error))?;
    if let (Some(file), Some(timeline)) = (html, report.timeline.as_ref()) {
        write_whole(file, &render_html(timeline))?;
    }
    print!("{}", report.render());
    Ok(if report.passed() {
        Exit::Passed
    } else {
        Exit::Failed
    })
}

fn shrink(seed: u64, scenario_path: Option<&str>, out: Option<&str>) -> Result<Exit, String> {
    let source = match scenario_path {
        Some(path) => load_scenario_file(path)?,
        None => ScenarioSource::built_in(),
    };
    let shrunk = redoubt_sim::run::shrink::shrink(seed, &source.scenario)?;
    let path = out.map_or_else(
        || format!("shrunk-{}-{seed}.toml", source.scenario.name),
        str::to_string,
    );
    write_whole(&path, &shrunk.text)?;
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
    println!(
        "replay: {}",
        redoubt_sim::report::replay_command(seed, Some(&path))
    );
    Ok(Exit::Passed)
}

fn swarm(args: &SwarmArgs) -> Result<Exit, String> {
    let seeds = SeedRange::parse(&args.seeds)?;
    let shard = match &args.shard {
        Some(text) => Shard::parse(text)?,
        None => Shard::WHOLE,
    };
    let scenarios = load_scenarios(&args.scenarios)?;
    let jobs = match args.jobs {
        Some(jobs) => jobs as usize,
        None => std::thread::available_parallelism().map_or(1, usize::from),
    };
    let plan = SwarmPlan {
        scenarios: &scenarios,
        seeds,
        shard,
        jobs,
    };
    let stop = stop_on_interrupt()?;
    announce(&plan);
    let outcome = run_swarm(&plan, &stop);
    if let Some(error) = outcome.configuration_error {
        return Err(error);
    }
    let report = SwarmReport::of_swarm(&outcome, seeds, shard);
    print!("{}", report.render("redoubt-sim swarm"));
    print!("{}", report.render_speed("speed:"));
    write_reports(&report, args.json.as_deref(), args.junit.as_deref())?;
    Ok(match (outcome.interrupted, report.passed()) {
        (true, _) => Exit::Interrupted,
        (false, true) => Exit::Passed,
        (false, false) => Exit::Failed,
    })
}

/// One line on stderr before the runs start: what runs, and how to stop.
fn announce(plan: &SwarmPlan<'_>) {
    let seeds = plan.shard_seeds();
    let shard = if plan.shard == Shard::WHOLE {
        String::new()
    } else {
        format!(" (shard {} of {})", plan.shard, plan.seeds)
    };
    eprintln!(
        "redoubt-sim swarm: {} runs: {} scenario(s) x seeds {}..{}{shard}, {} threads; \
         Ctrl-C stops early with a partial summary",
        plan.runs(),
        plan.scenarios.len(),
        seeds.start,
        seeds.end,
        plan.jobs
    );
    if seeds.is_empty() {
        eprintln!(
            "redoubt-sim swarm: shard {} of {} holds no seed: more shards than seeds",
            plan.shard, plan.seeds
        );
    }
}

fn merge_reports(args: &MergeArgs) -> Result<Exit, String> {
    let mut inputs = Vec::new();
    for file in &args.files {
        let report = SwarmReport::read(file)?;
        inputs.push(MergeInput {
            file: file.clone(),
            report,
        });
    }
    let merged = merge(&inputs)?;
    let report = &merged.report;
    let title = format!("redoubt-sim merge of {} reports", inputs.len());
    print!("{}", report.render(&title));
    for gap in &merged.gaps {
        println!("gap: {gap}");
    }
    print!(
        "{}",
        report.render_speed("speed (wall seconds summed over the reports):")
    );
    write_reports(report, args.json.as_deref(), args.junit.as_deref())?;
    Ok(match (merged.gaps.is_empty(), report.passed()) {
        (false, _) => Exit::Incomplete,
        (true, true) => Exit::Passed,
        (true, false) => Exit::Failed,
    })
}

fn write_reports(
    report: &SwarmReport,
    json: Option<&str>,
    junit: Option<&str>,
) -> Result<(), String> {
    if let Some(file) = json {
        write_whole(file, &report.to_json())?;
    }
    if let Some(file) = junit {
        write_whole(file, &junit_xml(report))?;
    }
    Ok(())
}

/// Writes `text` to `file` through a temporary file and a rename, so a
/// reader (a merge polling a shared volume) never sees half a report.
fn write_whole(file: &str, text: &str) -> Result<(), String> {
    let temporary = format!("{file}.partial-{}", std::process::id());
    std::fs::write(&temporary, text).map_err(|e| format!("{temporary}: {e}"))?;
    std::fs::rename(&temporary, file).map_err(|e| format!("{file}: {e}"))
}
