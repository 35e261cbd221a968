//! redoubt-sim: the deterministic simulator that drives redoubt-core.
//!
//! The path of a run: [`options`] derives every option from the seed within
//! a [`scenario`]'s ranges; [`sim`] builds a `Node<SimEnv>` ([`env`]: clock
//! [`clock`], disk [`disk`], randomness [`rng`]) and the [`workload`]
//! clients, and drives them from an event heap over simulated time, moving
//! bytes through [`net`] in RESP ([`resp`]). Everything core reports lands
//! in the [`trace`] and the trace hash ([`hash`]). When the run ends, the
//! checkers ([`check`], with the reference [`model`]) judge it and
//! [`report`] renders the verdicts. Scenario crashes restart the node on
//! its disk, and [`durability`] judges what it recovered at each restart.
//! [`swarm`] runs many seeds.

pub mod check;
pub mod clock;
pub mod disk;
pub mod durability;
pub mod env;
pub mod hash;
pub mod model;
pub mod net;
pub mod options;
pub mod report;
pub mod resp;
pub mod rng;
pub mod scenario;
pub mod sim;
pub mod swarm;
pub mod trace;
pub mod workload;

pub use report::Report;
pub use scenario::Scenario;
pub use sim::run_seed;
