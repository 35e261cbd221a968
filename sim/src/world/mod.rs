//! The simulated world a node lives in: simulated time ([`clock`]), the
//! disk with its page cache and platter ([`disk`]), the links to clients
//! ([`net`]), the seeded random streams ([`rng`]), core's `Env` over them
//! ([`mod@env`]), and the trace the node leaves ([`trace`], hashed by [`hash`]).

pub mod clock;
pub mod disk;
pub mod env;
pub mod hash;
pub mod net;
pub mod rng;
pub mod trace;
