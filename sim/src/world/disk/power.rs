//! Power loss for one file, sector by sector: each 512-byte sector holding
//! unsynced bytes is kept, dropped, zeroed or filled with garbage, as the
//! [`PowerLossModel`] weighs them; only its unsynced bytes change. Afterwards
//! the page cache and the durable image are the same bytes: what the
//! platter held when the power came back.

use super::inode::Inode;
use super::{DiskFaultCounts, PowerLossModel, SECTOR_BYTES};
use crate::world::rng::SimRng;

/// What power loss did to one sector's unsynced bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SectorOutcome {
    /// The new bytes reached the platter.
    Kept,
    /// They never did: old durable bytes, or a hole of zeros.
    Dropped,
    /// Torn: the sector reads as zeros.
    Zeroed,
    /// The sector holds seeded random bytes.
    Garbage,
}

const OUTCOMES: [SectorOutcome; 4] = [
    SectorOutcome::Kept,
    SectorOutcome::Dropped,
    SectorOutcome::Zeroed,
    SectorOutcome::Garbage,
];

impl PowerLossModel {
    fn weights(&self) -> [u64; 4] {
        [
            self.kept_weight,
            self.dropped_weight,
            self.zeroed_weight,
            self.garbage_weight,
        ]
    }

    /// One sector's outcome. A model with a single possible outcome draws
    /// nothing; one with none drops.
    fn draw(&self, rng: &mut SimRng) -> SectorOutcome {
        let weights = self.weights();
        let mut possible = OUTCOMES.iter().zip(weights).filter(|(_, w)| *w > 0);
        match (possible.next(), possible.next()) {
            (None, _) => SectorOutcome::Dropped,
            (Some((only, _)), None) => *only,
            _ => OUTCOMES[rng.weighted(&weights)],
        }
    }
}

/// The draws of one power loss, counted as they are made.
pub(super) struct SectorDraw<'a> {
    pub rng: &'a mut SimRng,
    pub model: PowerLossModel,
    /// This power loss happens to keep every unsynced byte.
    pub all_kept: bool,
    pub counts: &'a mut DiskFaultCounts,
}

impl SectorDraw<'_> {
    fn next(&mut self) -> SectorOutcome {
        let outcome = match self.all_kept {
            true => SectorOutcome::Kept,
            false => self.model.draw(self.rng),
        };
        match outcome {
            SectorOutcome::Kept => self.counts.sectors_kept += 1,
            SectorOutcome::Dropped => self.counts.sectors_dropped += 1,
            SectorOutcome::Zeroed => self.counts.sectors_zeroed += 1,
            SectorOutcome::Garbage => self.counts.sectors_garbage += 1,
        }
        outcome
    }
}

/// A run of unsynced bytes inside one sector, and its fate.
#[derive(Debug, Clone, Copy)]
struct Piece {
    start: u64,
    end: u64,
    outcome: SectorOutcome,
}

/// One outcome per sector holding dirty bytes, split at sector bounds.
fn decide(inode: &Inode, draw: &mut SectorDraw<'_>) -> Vec<Piece> {
    let mut pieces: Vec<Piece> = Vec::new();
    for extent in inode.dirty.iter() {
        let mut at = extent.start;
        while at < extent.end {
            let sector = at / SECTOR_BYTES;
            let end = ((sector + 1) * SECTOR_BYTES).min(extent.end);
            let outcome = match pieces.last() {
                Some(last) if (last.end - 1) / SECTOR_BYTES == sector => last.outcome,
                _ => draw.next(),
            };
            pieces.push(Piece {
                start: at,
                end,
                outcome,
            });
            at = end;
        }
    }
    pieces
}

/// The length after power loss: the old durable length, extended to the
/// end of the last sector not dropped, never past the page cache.
fn length_after(inode: &Inode, pieces: &[Piece]) -> u64 {
    let reached = pieces
        .iter()
        .filter(|piece| piece.outcome != SectorOutcome::Dropped)
        .map(|piece| (piece.end - 1) / SECTOR_BYTES * SECTOR_BYTES + SECTOR_BYTES)
        .max()
        .unwrap_or(0);
    inode.durable_len.max(reached.min(inode.len()))
}

fn fill_garbage(bytes: &mut [u8], rng: &mut SimRng) {
    for chunk in bytes.chunks_mut(8) {
        let random = rng.next_u64().to_le_bytes();
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
}

/// Applies power loss to `inode`; returns the bytes copied. Cost: the
/// dirty and divergent bytes, never the whole file.
pub(super) fn lose_power(inode: &mut Inode, draw: &mut SectorDraw<'_>) -> u64 {
    let pieces = decide(inode, draw);
    let new_len = length_after(inode, &pieces);
    let range = |piece: &Piece| piece.start as usize..piece.end as usize;
    let kept: Vec<Vec<u8>> = pieces
        .iter()
        .filter(|piece| piece.outcome == SectorOutcome::Kept)
        .map(|piece| inode.cache[range(piece)].to_vec())
        .collect();
    let mut copied: u64 = kept.iter().map(|bytes| bytes.len() as u64).sum();
    for piece in &pieces {
        inode.cache[range(piece)].fill(0);
    }
    let full = inode.len().max(inode.durable_len);
    inode.cache.resize(full as usize, 0);
    copied += inode.divergent.copy_onto(&mut inode.cache, 0, full);
    let mut kept = kept.into_iter();
    for piece in &pieces {
        let bytes = &mut inode.cache[range(piece)];
        match piece.outcome {
            SectorOutcome::Kept => bytes.copy_from_slice(&kept.next().expect("saved")),
            SectorOutcome::Dropped => {}
            SectorOutcome::Zeroed => bytes.fill(0),
            SectorOutcome::Garbage => fill_garbage(bytes, draw.rng),
        }
        copied += piece.end - piece.start;
    }
    inode.cache.truncate(new_len as usize);
    inode.durable_len = new_len;
    inode.divergent.clear();
    inode.dirty = Default::default();
    inode.set_durable_version(inode.version);
    copied
}
