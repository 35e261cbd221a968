//! One run and many: a [`scenario`] file (found and loaded as the command
//! line names it by [`scenario_files`]), the [`options`] a seed derives
//! from it, the [`simulation`] that drives the node and its clients over
//! simulated time, and the [`swarm`] that runs many seeds.

mod clients;
pub mod failover;
mod finish;
mod listener;
mod lives;
mod nodes;
pub mod options;
mod picture;
mod reader;
pub mod scenario;
pub mod scenario_files;
pub mod shrink;
pub mod simulation;
pub mod swarm;

pub use simulation::{run_seed, run_seed_with};
