//! redoubt-core: a Redis-compatible server as a sans-IO state machine.
//!
//! The path of a request: a driver delivers bytes to [`node::Node::on_bytes`];
//! [`resp`] parses them into commands; [`cmd`] checks and runs each against
//! the [`db`] keyspace, writing the reply into the client's output buffer;
//! [`node::Node::before_sleep`] then does the work that must precede replies
//! and hands them to the driver through [`env::Net`].
//!
//! * [`env`]: the traits through which core reaches the world (clock, disk,
//!   network, randomness, logging, trace). Nothing else does.
//! * [`node`]: `Node<E: Env>`, the event interface and the loop's order.
//! * [`server`]: `Server`, the state every part shares.
//! * [`client`]: per-connection state.
//! * [`resp`]: the wire protocol, RESP2 and RESP3.
//! * [`cmd`]: the command table, one file per family.
//! * [`db`]: databases, keys, values, expiry, WATCH bookkeeping.
//! * [`evict`]: `maxmemory`, the eviction policies, the OOM refusal.
//! * [`config`]: directives with Redis's names, defaults and syntax.
//! * [`notify`]: keyspace notifications (`notify-keyspace-events`).
//! * [`observe`]: the slow log, latency monitor, MONITOR clients and
//!   command and error counters the operator's commands read.
//! * [`glob`]: Redis's glob patterns (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET).

pub mod blocking;
pub mod client;
pub mod cmd;
pub mod config;
pub mod db;
pub mod env;
pub mod evict;
pub mod glob;
pub mod long_double;
pub mod node;
pub mod notify;
pub mod observe;
pub mod pause;
pub mod persist;
pub mod planted;
pub mod pubsub;
pub mod repl;
pub mod resp;
pub mod script;
pub mod server;
pub mod shutdown;
pub mod stream;
pub mod testing;

pub use client::ConnInfo;
pub use config::Config;
pub use env::{ConnId, Env};
pub use node::Node;

/// The Redis version this server answers as (INFO, HELLO): the release whose
/// behaviour it follows.
pub const REDIS_VERSION: &str = "7.0.15";
/// redoubt's own version.
pub const REDOUBT_VERSION: &str = env!("CARGO_PKG_VERSION");
