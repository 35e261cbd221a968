//! Faults: what a run injects.
//!
//! * [`spec`]: the `[faults]` section of a scenario file: generators with
//!   the ranges a seed draws from, and explicit schedules;
//! * [`plan`]: one run's faults, drawn from its seed before it starts.
//!
//! The faults themselves act in the [`crate::world`]: the disk injects its
//! per-call faults and power-loss damage, the clock drifts and jumps, the
//! network partitions node 0 from its replicas, and
//! the simulation crashes, pauses, shuts down and restarts the node.

pub mod plan;
pub mod spec;

pub use plan::{DiskProfile, FaultPlan, FinalKind};
pub use spec::{
    CrashKind, FailoverTrigger, FaultSpec, HeldDirection, PartitionMode, ScheduledFault,
    ShutdownHow,
};
