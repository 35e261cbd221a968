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
//! Later faults enter here: disconnects, one-way and two-way partitions
//! (`Link::held` holds a direction's traffic until healed).

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
}

/// Pieces a message is split into at most.
const PIECES_PER_MESSAGE_MAX: usize = 8;

#[derive(Debug)]
struct Link {
    rng: SimRng,
    /// Last delivery time per direction, so later pieces never overtake.
    last_delivery_ms: [u64; 2],
    /// Traffic held by a partition, per direction (the seam; always false).
    held: [bool; 2],
}

/// All links of a run.
#[derive(Debug)]
pub struct SimNet {
    options: NetOptions,
    links: Vec<Link>,
    /// Links between nodes, in the order they were opened.
    peer_links: Vec<Link>,
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
            held: [false; 2],
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
        }
    }

    /// Adds a link between two nodes, on its own stream; returns its index.
    pub fn add_peer_link(&mut self, seed: u64) -> usize {
        let index = self.peer_links.len();
        let stream_id = stream::PEER_LINK_BASE + index as u64;
        self.peer_links.push(Link::new(seed, stream_id));
        index
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
        let link = self.link_mut(link);
        debug_assert!(!link.held[direction as usize], "partitions come later");
        let latency = link.rng.range(latency_min, latency_max);
        let at = (now_ms + latency).max(link.last_delivery_ms[direction as usize]);
        link.last_delivery_ms[direction as usize] = at;
        at
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
            let at = self.delivery_ms_on(link, direction, now_ms);
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
        };
        let mut alone = SimNet::new(5, 2, options.clone());
        let mut with_peer = SimNet::new(5, 2, options);
        let peer = with_peer.add_peer_link(5);
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
}
