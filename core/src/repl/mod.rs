//! Replication: the master side (replicas, full and partial syncs), the
//! replica side (the link to a master), and the backlog.

use crate::env::{ConnId, Env};
use crate::server::Server;

impl Server {
    /// An outgoing connection opened (see `Node::on_connected`).
    pub fn link_connected(&mut self, _env: &mut dyn Env, _conn: ConnId) {}
}
