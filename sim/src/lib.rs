//! redoubt-sim: the deterministic simulator that drives redoubt-core.
//!
//! The path of a run: [`run::options`] derives every option from the seed
//! within a [`run::scenario`]'s ranges, and [`faults`] draws what the run
//! injects; [`run::simulation`] builds a `Node<SimEnv>` in the [`world`]
//! (clock, disk, network, random streams) and the [`workload`] clients, and
//! drives them from an event heap over simulated time. Everything core
//! reports lands in the trace and its hash. At each restart and at the end,
//! the [`check`]ers judge the run, and [`report`] renders their verdicts.
//! [`run::swarm`] runs many seeds (or one shard of them) under one or more
//! scenarios, a panic failing only its seed; [`report`] turns their
//! records into a summary, a JSON report that `merge` joins across
//! shards, and JUnit XML.
//!
//! Where things go: a new fault in [`faults`] (and, if it lives in the
//! disk, network or clock, in [`world`]); a new checker in [`check`]; a
//! new client behaviour in [`workload`]; a new output format in [`report`].

pub mod check;
pub mod faults;
pub mod report;
pub mod run;
pub mod workload;
pub mod world;

pub use report::Report;
pub use run::scenario::Scenario;
pub use run::{run_seed, run_seed_with};
