//! `SimNet`: in-memory links between simulated clients and the node.
//!
//! Each client has one link with its own random stream. A message sent in
//! either direction is split at seeded byte boundaries (so the node's parser
//! and the client's see partial requests and replies) and each piece is
//! delivered after a seeded latency, never before an earlier piece in the
//! same direction: delivery is in order per direction, as over TCP.
//!
//! Connections between simulated nodes (a replica's link to its master)
//! are peer links: each has its own stream too (`stream::PEER_LINK_BASE`
//! plus its index, so a run without them draws exactly what it drew
//! before), the same latency window and the same splitting. A peer link's
//! direction `ToNode` runs from the node that connected to the node that
//! accepted, `ToClient` back.
//!
//! Partitions (`faults.partitions`, drawn on their own stream) break the
//! network between two nodes, never a client's link, in the fault phase;
//! every one heals when the quiet phase starts at the latest. A peer link
//! knows the two nodes it joins, so a partition applies to every link
//! between them, those opened during it too:
//!
//! * `cut`: the connections between the two nodes are reset (the
//!   simulation delivers a close to each side after one latency, and drops
//!   what was in flight or sent since), and a connect between them is
//!   refused until it heals;
//! * `hold`: everything sent between them either way (bytes, connects,
//!   closes) is held and delivered, in order, one latency after it heals,
//!   as TCP retransmits once a partition heals. What was already in flight
//!   when it started arrives as sent;
//! * `one_way`: the same, in one direction only (master to replica, or
//!   replica to master).
//!
//! Nothing draws randomness for a partition here: a held piece draws its
//! latency as any other piece does, so the links' streams stay as they
//! were. A partition longer than `repl-timeout` makes core time the link
//! out, on either side; the replica then reconnects (once a second), and
//! resyncs partially from the backlog, or in full once it overflowed.

use crate::world::rng::{stream, SimRng};

/// A direction on a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToNode = 0,
    ToClient = 1,
}

/// Network options, derived from the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetOptions {
    pub latency_ms_min: u64,
    pub latency_ms_max: u64,
    /// Chance, in percent, that a message is split at a random point (and
    /// again for the rest).
    pub split_percent: u64,
    /// The same, for messages between two nodes.
    pub peer_split_percent: u64,
    /// Bytes a link between two nodes carries per ms each way; 0: no limit.
    pub peer_bytes_per_ms: u64,
}

/// Pieces a message is split into at most.
const PIECES_PER_MESSAGE_MAX: usize = 8;

#[derive(Debug)]
struct Link {
    rng: SimRng,
    /// Last delivery time per direction, so later pieces never overtake.
    last_delivery_ms: [u64; 2],
    /// With a bandwidth: until when each direction is busy sending.
    busy_until_ms: [u64; 2],
    /// For a link between nodes: the node that connected and the node it
    /// connected to (if the address named one).
    nodes: Option<(usize, usize)>,
}

/// A partition in force between two nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetPartition {
    /// Names it, to heal it.
    pub id: usize,
    /// The two nodes (node 0 and a replica).
    pub nodes: (usize, usize),
    /// Connections reset, connects refused.
    pub cut: bool,
    /// Traffic held from `nodes.0` to `nodes.1`, and back.
    pub held: [bool; 2],
    /// When it heals: held traffic is delivered from then on.
    pub heal_at_ms: u64,
}

/// All links of a run.
#[derive(Debug)]
pub struct SimNet {
    options: NetOptions,
    links: Vec<Link>,
    /// Links between nodes, in the order they were opened.
    peer_links: Vec<Link>,
    /// Partitions in force.
    partitions: Vec<NetPartition>,
}

/// Which kind of link a call is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkId {
    /// A client's link, by client index.
    Client(usize),
    /// A link between two nodes, by the index [`SimNet::add_peer_link`]
    /// gave it.
    Peer(usize),
}

impl Link {
    fn new(seed: u64, stream_id: u64) -> Self {
        Link {
            rng: SimRng::new(seed, stream_id),
            last_delivery_ms: [0; 2],
            busy_until_ms: [0; 2],
            nodes: None,
        }
    }
}

impl SimNet {
    /// One link per client, each on its own stream of `seed`.
    pub fn new(seed: u64, clients: usize, options: NetOptions) -> Self {
        let links = (0..clients)
            .map(|index| Link::new(seed, stream::LINK_BASE + index as u64))
            .collect();
        SimNet {
            options,
            links,
            peer_links: Vec::new(),
            partitions: Vec::new(),
        }
    }

    /// Adds a link between two nodes, on its own stream; returns its index.
    /// `nodes`: the connecting node and the node the address names, if
    /// any (partitions between them apply to the link).
    pub fn add_peer_link(&mut self, seed: u64, nodes: Option<(usize, usize)>) -> usize {
        let index = self.peer_links.len();
        let stream_id = stream::PEER_LINK_BASE + index as u64;
        let mut link = Link::new(seed, stream_id);
        link.nodes = nodes;
        self.peer_links.push(link);
        index
    }

    /// The nodes a peer link joins: (connecting, accepting).
    pub fn peer_nodes(&self, link: usize) -> Option<(usize, usize)> {
        self.peer_links[link].nodes
    }

    /// A partition starts.
    pub fn partition(&mut self, partition: NetPartition) {
        self.partitions.push(partition);
    }

    /// The partition `id` heals (if still in force). Held traffic keeps
    /// the delivery times it was given (from the planned heal on).
    pub fn heal(&mut self, id: usize) {
        self.partitions.retain(|p| p.id != id);
    }

    /// Nodes `a` and `b` swap numbers (a failover swaps their seats): the
    /// partitions drawn for each follow it.
    pub fn swap_nodes(&mut self, a: usize, b: usize) {
        let swap = |n: usize| match n {
            n if n == a => b,
            n if n == b => a,
            n => n,
        };
        for partition in &mut self.partitions {
            partition.nodes = (swap(partition.nodes.0), swap(partition.nodes.1));
        }
    }

    /// Every partition heals (the quiet phase).
    pub fn heal_all(&mut self) {
        self.partitions.clear();
    }

    /// Whether a `cut` partition between `a` and `b` is in force.
    pub fn cut_between(&self, a: usize, b: usize) -> bool {
        self.partitions
            .iter()
            .any(|p| p.cut && (p.nodes == (a, b) || p.nodes == (b, a)))
    }

    /// Until when traffic from node `from` to node `to` is held, if it is.
    fn held_until(&self, from: usize, to: usize) -> Option<u64> {
        self.partitions
            .iter()
            .filter_map(|p| {
                let held = if p.nodes == (from, to) {
                    p.held[0]
                } else if p.nodes == (to, from) {
                    p.held[1]
                } else {
                    false
                };
                held.then_some(p.heal_at_ms)
            })
            .max()
    }

    fn link_mut(&mut self, link: LinkId) -> &mut Link {
        match link {
            LinkId::Client(index) => &mut self.links[index],
            LinkId::Peer(index) => &mut self.peer_links[index],
        }
    }

    /// Adds the link of a client that joins the run later (index must be
    /// the next one).
    pub fn add_link(&mut self, seed: u64, index: usize) {
        assert_eq!(index, self.links.len(), "links are added in order");
        self.links
            .push(Link::new(seed, stream::LINK_BASE + index as u64));
    }

    /// When something sent now on `link` in `direction` arrives.
    pub fn delivery_ms(&mut self, link: usize, direction: Direction, now_ms: u64) -> u64 {
        self.delivery_ms_on(LinkId::Client(link), direction, now_ms)
    }

    /// [`SimNet::delivery_ms`] on a client's or a peer link.
    pub fn delivery_ms_on(&mut self, link: LinkId, direction: Direction, now_ms: u64) -> u64 {
        let (latency_min, latency_max) = (self.options.latency_ms_min, self.options.latency_ms_max);
        let held_until = match link {
            LinkId::Peer(index) if !self.partitions.is_empty() => self.peer_links[index]
                .nodes
                .and_then(|(connecting, accepting)| {
                    let (from, to) = match direction {
                        Direction::ToNode => (connecting, accepting),
                        Direction::ToClient => (accepting, connecting),
                    };
                    self.held_until(from, to)
                }),
            _ => None,
        };
        let link = self.link_mut(link);
        let latency = link.rng.range(latency_min, latency_max);
        let sent_ms = held_until.map_or(now_ms, |heal_ms| heal_ms.max(now_ms));
        let at = (sent_ms + latency).max(link.last_delivery_ms[direction as usize]);
        link.last_delivery_ms[direction as usize] = at;
        at
    }

    /// When a piece of `length` bytes handed to the link at `now_ms` has
    /// left: at once, or, on a link between nodes with a bandwidth, once
    /// what was queued before it and its own bytes went out.
    fn sent_ms(&mut self, link: LinkId, direction: Direction, now_ms: u64, length: usize) -> u64 {
        let rate = self.options.peer_bytes_per_ms;
        if rate == 0 || matches!(link, LinkId::Client(_)) {
            return now_ms;
        }
        let busy = &mut self.link_mut(link).busy_until_ms[direction as usize];
        let done = now_ms.max(*busy) + (length as u64).div_ceil(rate);
        *busy = done;
        done
    }

    /// Splits `data` into pieces and gives each its delivery time.
    pub fn transmit(
        &mut self,
        link: usize,
        direction: Direction,
        now_ms: u64,
        data: &[u8],
    ) -> Vec<(u64, Vec<u8>)> {
        self.transmit_on(LinkId::Client(link), direction, now_ms, data)
    }

    /// [`SimNet::transmit`] on a client's or a peer link.
    pub fn transmit_on(
        &mut self,
        link: LinkId,
        direction: Direction,
        now_ms: u64,
        data: &[u8],
    ) -> Vec<(u64, Vec<u8>)> {
        let mut pieces = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            let split_percent = match link {
                LinkId::Client(_) => self.options.split_percent,
                LinkId::Peer(_) => self.options.peer_split_percent,
            };
            let rng = &mut self.link_mut(link).rng;
            let last_piece = pieces.len() + 1 == PIECES_PER_MESSAGE_MAX;
            let length = if rest.len() > 1 && !last_piece && rng.percent(split_percent) {
                rng.range(1, rest.len() as u64 - 1) as usize
            } else {
                rest.len()
            };
            let sent_ms = self.sent_ms(link, direction, now_ms, length);
            let at = self.delivery_ms_on(link, direction, sent_ms);
            pieces.push((at, rest[..length].to_vec()));
            rest = &rest[length..];
        }
        pieces
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pieces reassemble to the message and arrive in order.
    #[test]
    fn pieces_reassemble_in_order() {
        let options = NetOptions {
            latency_ms_min: 0,
            latency_ms_max: 9,
            split_percent: 80,
            peer_split_percent: 80,
            peer_bytes_per_ms: 0,
        };
        let mut net = SimNet::new(3, 2, options);
        let message: Vec<u8> = (0..200u8).collect();
        let mut received = Vec::new();
        let mut last = 0;
        for round in 0..20 {
            for (at, piece) in net.transmit(1, Direction::ToNode, round * 3, &message) {
                assert!(at >= last);
                last = at;
                received.extend_from_slice(&piece);
            }
        }
        assert_eq!(received, message.repeat(20));
    }

    /// A peer link draws from its own stream: opening one and sending on
    /// it changes nothing a client's link draws, and its pieces reassemble
    /// in order too.
    #[test]
    fn peer_links_leave_client_links_alone() {
        let options = NetOptions {
            latency_ms_min: 1,
            latency_ms_max: 9,
            split_percent: 50,
            peer_split_percent: 50,
            peer_bytes_per_ms: 0,
        };
        let mut alone = SimNet::new(5, 2, options.clone());
        let mut with_peer = SimNet::new(5, 2, options);
        let peer = with_peer.add_peer_link(5, Some((1, 0)));
        let message: Vec<u8> = (0..100u8).collect();
        let mut received = Vec::new();
        let mut last = 0;
        for round in 0..10 {
            for (at, piece) in
                with_peer.transmit_on(LinkId::Peer(peer), Direction::ToNode, round, &message)
            {
                assert!(at >= last);
                last = at;
                received.extend_from_slice(&piece);
            }
            assert_eq!(
                alone.transmit(1, Direction::ToClient, round, &message),
                with_peer.transmit(1, Direction::ToClient, round, &message)
            );
        }
        assert_eq!(received, message.repeat(10));
    }

    /// A hold delays traffic between its two nodes, in the directions it
    /// holds, to its heal (in order), and draws nothing more: the same
    /// pieces arrive, later.
    #[test]
    fn a_hold_delays_one_direction_to_its_heal() {
        let options = NetOptions {
            latency_ms_min: 1,
            latency_ms_max: 5,
            split_percent: 50,
            peer_split_percent: 50,
            peer_bytes_per_ms: 0,
        };
        let mut free = SimNet::new(9, 0, options.clone());
        let mut held = SimNet::new(9, 0, options);
        let a = free.add_peer_link(9, Some((1, 0)));
        let b = held.add_peer_link(9, Some((1, 0)));
        held.partition(NetPartition {
            id: 0,
            nodes: (0, 1),
            cut: false,
            held: [true, false],
            heal_at_ms: 1000,
        });
        let message: Vec<u8> = (0..50u8).collect();
        // Node 1 connected, so ToNode runs from node 1 to node 0: not held.
        let up_free = free.transmit_on(LinkId::Peer(a), Direction::ToNode, 10, &message);
        let up_held = held.transmit_on(LinkId::Peer(b), Direction::ToNode, 10, &message);
        assert_eq!(up_free, up_held);
        let down_free = free.transmit_on(LinkId::Peer(a), Direction::ToClient, 10, &message);
        let down_held = held.transmit_on(LinkId::Peer(b), Direction::ToClient, 10, &message);
        assert_eq!(down_free.len(), down_held.len());
        for ((at_free, bytes_free), (at_held, bytes_held)) in down_free.iter().zip(&down_held) {
            assert_eq!(bytes_free, bytes_held);
            assert!(
                *at_held >= 1000 && *at_held <= 1005,
                "{at_held} (free {at_free})"
            );
        }
        assert!(!held.cut_between(0, 1));
        held.heal(0);
        let after = held.transmit_on(LinkId::Peer(b), Direction::ToClient, 2000, &message);
        assert!(after.iter().all(|(at, _)| *at >= 2000 && *at <= 2005));
    }

    /// With a bandwidth, a link between nodes takes its bytes' worth of
    /// time, and what is sent next queues behind; clients' links do not.
    #[test]
    fn a_peer_link_carries_bytes_at_its_rate() {
        let options = NetOptions {
            latency_ms_min: 0,
            latency_ms_max: 0,
            split_percent: 0,
            peer_split_percent: 0,
            peer_bytes_per_ms: 100,
        };
        let mut net = SimNet::new(1, 1, options);
        let peer = net.add_peer_link(1, Some((1, 0)));
        let big = vec![7u8; 10_000];
        let first = net.transmit_on(LinkId::Peer(peer), Direction::ToNode, 0, &big);
        assert_eq!(first.last().map(|&(at, _)| at), Some(100));
        let next = net.transmit_on(LinkId::Peer(peer), Direction::ToNode, 10, &[1]);
        assert_eq!(next[0].0, 101);
        let back = net.transmit_on(LinkId::Peer(peer), Direction::ToClient, 10, &[1]);
        assert_eq!(back[0].0, 11);
        let client = net.transmit(0, Direction::ToNode, 0, &big);
        assert_eq!(client[0].0, 0);
    }
}
