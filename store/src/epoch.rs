//! Replication epochs (`epochs` in the store folder): one line `epoch start_offset` per term
//! of a master, oldest first. A master opens a new epoch at its CommitLog end each time it
//! starts; a slave keeps its master's list. Two logs agree up to the end of the newest epoch
//! they both have, so a slave whose log ran past that (an old master restarted with a tail
//! it never replicated) can be told where to cut. The cut itself (`replica_truncate`) is
//! made at the next open, before any reader exists.

use std::path::Path;

use crate::disk::Disk;
use crate::error::StoreError;

/// One term: its number and the CommitLog offset it started at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch {
    /// The term's number, one more than the one before.
    pub epoch: u64,
    /// CommitLog offset of its first byte.
    pub start: u64,
}

pub(crate) const EPOCH_FILE: &str = "epochs";
pub(crate) const TRUNCATE_FILE: &str = "replica_truncate";

/// Reads the epoch list (empty when absent; unreadable lines are an error).
pub(crate) fn load(root: &Path) -> Result<Vec<Epoch>, StoreError> {
    let path = root.join(EPOCH_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(&path, e)),
    };
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let parsed = line
            .split_once(' ')
            .and_then(|(e, s)| Some((e.parse().ok()?, s.trim().parse().ok()?)));
        let Some((epoch, start)) = parsed else {
            return Err(StoreError::MessageIllegal(format!(
                "{}: bad line {line:?}",
                path.display()
            )));
        };
        out.push(Epoch { epoch, start });
    }
    Ok(out)
}

pub(crate) fn store(root: &Path, disk: &Disk, epochs: &[Epoch]) -> Result<(), StoreError> {
    let text: String = epochs
        .iter()
        .map(|e| format!("{} {}\n", e.epoch, e.start))
        .collect();
    let path = root.join(EPOCH_FILE);
    disk.write_atomic(&path, text.as_bytes())
        .map_err(|e| StoreError::io(&path, e))
}

/// Where a slave's log stops agreeing with its master's: the end of the newest epoch both
/// lists hold (same number, same start), bounded by both logs' ends. A slave without epochs
/// (new, or from before epochs) is trusted up to its end, as RocketMQ's stream does.
pub fn common_end(master: &[Epoch], master_max: u64, slave: &[Epoch], slave_max: u64) -> u64 {
    if slave.is_empty() {
        return slave_max;
    }
    let end_of = |list: &[Epoch], i: usize, max: u64| list.get(i + 1).map_or(max, |n| n.start);
    for (si, s) in slave.iter().enumerate().rev() {
        if let Some(mi) = master.iter().position(|m| m == s) {
            return end_of(master, mi, master_max)
                .min(end_of(slave, si, slave_max))
                .min(slave_max);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(epoch: u64, start: u64) -> Epoch {
        Epoch { epoch, start }
    }

    #[test]
    fn logs_agree_to_the_end_of_their_newest_shared_epoch() {
        // Same term, the slave behind or level: nothing to cut.
        assert_eq!(common_end(&[e(1, 0)], 1_000, &[e(1, 0)], 900), 900);
        // The master restarted (epoch 2 at 1,000); the slave still in epoch 1 at 900.
        assert_eq!(
            common_end(&[e(1, 0), e(2, 1_000)], 1_500, &[e(1, 0)], 900),
            900
        );
        // The slave was promoted at 900 (epoch 2) and wrote on; the old master, now its slave,
        // ran epoch 1 on to 1,000 without replicating it: cut at 900.
        assert_eq!(
            common_end(&[e(1, 0), e(2, 900)], 1_400, &[e(1, 0)], 1_000),
            900
        );
        // A slave that lived through a term the master never had.
        assert_eq!(
            common_end(&[e(1, 0), e(3, 950)], 2_000, &[e(1, 0), e(2, 900)], 1_200),
            900
        );
        // No shared term at all: nothing is known to agree.
        assert_eq!(common_end(&[e(5, 0)], 10, &[e(4, 0)], 10), 0);
        // A slave without epochs is trusted.
        assert_eq!(common_end(&[e(1, 0)], 10, &[], 7), 7);
    }
}
