//! One IndexFile (RocketMQ layout, DESIGN.md §4): 40-byte header, hash slots, linked entries.
//!
//! Concurrency: one writer (the dispatcher, under `IndexService::write`), many readers. Header
//! fields and slots are only accessed as atomics (big-endian values inside). An entry is written
//! in full, then `indexCount` is bumped (Release), then the slot is pointed at it (Release); a
//! reader reaches entries only through slots and `prevIndex` links, which only name published
//! entries, and entries never change once published (invariant I2).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

use crate::disk::Disk;
use crate::error::StoreError;

pub(crate) const HEADER_LEN: usize = 40;
pub(crate) const ENTRY_LEN: usize = 20;

/// `abs(javaHash(key))`, with i32::MIN mapped to 0.
pub(crate) fn key_hash(h: i32) -> u32 {
    if h == i32::MIN {
        0
    } else {
        h.unsigned_abs()
    }
}

pub(crate) struct IndexFile {
    path: PathBuf,
    map: MmapRaw,
    slot_num: u32,
    index_num: u32,
    disk: Disk,
}

impl IndexFile {
    pub(crate) fn open(
        path: &Path,
        slot_num: u32,
        index_num: u32,
        disk: &Disk,
    ) -> Result<Self, StoreError> {
        let size = HEADER_LEN + slot_num as usize * 4 + index_num as usize * ENTRY_LEN;
        let err = |e| StoreError::io(path, e);
        let file = disk.open_file(path).map_err(err)?;
        let len = file.metadata().map_err(err)?.len();
        if len != size as u64 {
            if len != 0 {
                return Err(err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("index file is {len} bytes, expected {size}"),
                )));
            }
            disk.set_len(path, &file, size as u64).map_err(err)?;
            // Hash slots are written anywhere in the file: allocate all of it now (A1).
            if let Err(e) = crate::alloc::allocate(&file, path, 0, size as u64) {
                let _ = disk.remove_file(path);
                return Err(e);
            }
            disk.sync_file(path, &file).map_err(err)?;
            disk.sync_dir(path.parent().unwrap_or(Path::new(".")))
                .map_err(err)?;
        }
        let map = MmapOptions::new().len(size).map_raw(&file).map_err(err)?;
        // Hash slots and entries are touched a few bytes at a time, all over the file: no
        // readahead window zeroed and read around each fault.
        if let Err(e) = map.advise(memmap2::Advice::Random) {
            tracing::debug!(path = %path.display(), error = %e, "madvise(RANDOM) failed");
        }
        let f = Self {
            path: path.to_path_buf(),
            map,
            slot_num,
            index_num,
            disk: disk.clone(),
        };
        if f.index_count() == 0 {
            f.u32_at(36).store(1u32.to_be(), Ordering::Release); // entry 0 is never used
        }
        // I4: a count beyond the capacity (a damaged header) would send reads outside the
        // mapping; such a file is refused, and the service rebuilds the index from the log.
        if f.index_count() > index_num {
            return Err(err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "index file claims {} entries, holds at most {index_num}",
                    f.index_count()
                ),
            )));
        }
        Ok(f)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    fn u64_at(&self, pos: usize) -> &AtomicU64 {
        debug_assert!(pos.is_multiple_of(8) && pos + 8 <= HEADER_LEN);
        // SAFETY: pos is one of the header's 8-aligned u64 fields (0..32), inside the
        // page-aligned mapping, which lives as long as `self`; every access to these bytes is
        // through this atomic view.
        unsafe { &*(self.map.as_mut_ptr().add(pos) as *const AtomicU64) }
    }

    fn u32_at(&self, pos: usize) -> &AtomicU32 {
        debug_assert!(pos.is_multiple_of(4) && pos + 4 <= HEADER_LEN + self.slot_num as usize * 4);
        // SAFETY: pos is a 4-aligned header field or slot inside the mapping (checked by the
        // callers: 32, 36 or a slot index < slot_num); slots and these header fields are only
        // ever accessed atomically.
        unsafe { &*(self.map.as_mut_ptr().add(pos) as *const AtomicU32) }
    }

    fn get64(&self, pos: usize) -> i64 {
        u64::from_be(self.u64_at(pos).load(Ordering::Acquire)) as i64
    }
    fn set64(&self, pos: usize, v: i64) {
        self.u64_at(pos)
            .store((v as u64).to_be(), Ordering::Release);
    }

    pub(crate) fn begin_timestamp(&self) -> i64 {
        self.get64(0)
    }
    pub(crate) fn end_timestamp(&self) -> i64 {
        self.get64(8)
    }
    pub(crate) fn begin_phy_offset(&self) -> i64 {
        self.get64(16)
    }
    pub(crate) fn end_phy_offset(&self) -> i64 {
        self.get64(24)
    }
    pub(crate) fn index_count(&self) -> u32 {
        u32::from_be(self.u32_at(36).load(Ordering::Acquire))
    }
    pub(crate) fn is_full(&self) -> bool {
        self.index_count() >= self.index_num
    }
    /// Entries that still fit.
    pub(crate) fn room(&self) -> usize {
        self.index_num.saturating_sub(self.index_count()) as usize
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.index_count() <= 1
    }

    fn slot(&self, hash: u32) -> &AtomicU32 {
        self.u32_at(HEADER_LEN + (hash % self.slot_num) as usize * 4)
    }

    fn entry_pos(&self, n: u32) -> usize {
        HEADER_LEN + self.slot_num as usize * 4 + n as usize * ENTRY_LEN
    }

    /// Reads published entry `n` (keyHash, phyOffset, timeDiff, prevIndex).
    fn entry(&self, n: u32) -> Option<(u32, i64, i32, u32)> {
        // Bounded by the capacity as well as the count (I4), whatever the header says.
        if n == 0 || n >= self.index_count().min(self.index_num) {
            return None;
        }
        // SAFETY: n < indexCount (Acquire), so the entry lies inside the mapping and was fully
        // written before it was published; it is never written again (invariant I2).
        let b = unsafe {
            std::slice::from_raw_parts(self.map.as_ptr().add(self.entry_pos(n)), ENTRY_LEN)
        };
        Some((
            u32::from_be_bytes(b.get(..4)?.try_into().ok()?),
            i64::from_be_bytes(b.get(4..12)?.try_into().ok()?),
            i32::from_be_bytes(b.get(12..16)?.try_into().ok()?),
            u32::from_be_bytes(b.get(16..20)?.try_into().ok()?),
        ))
    }

    /// Adds one key; false if the file is full. Single writer only.
    pub(crate) fn put(&self, hash: u32, phy_offset: i64, store_ts: i64) -> bool {
        let n = self.index_count();
        if n >= self.index_num {
            return false;
        }
        let slot = self.slot(hash);
        let prev = u32::from_be(slot.load(Ordering::Acquire));
        let prev = if prev >= n { 0 } else { prev };
        if n == 1 {
            self.set64(0, store_ts);
            self.set64(16, phy_offset);
        }
        let diff =
            ((store_ts - self.begin_timestamp()) / 1000).clamp(0, i64::from(i32::MAX)) as i32;
        let mut e = [0u8; ENTRY_LEN];
        e[..4].copy_from_slice(&hash.to_be_bytes());
        e[4..12].copy_from_slice(&phy_offset.to_be_bytes());
        e[12..16].copy_from_slice(&diff.to_be_bytes());
        e[16..].copy_from_slice(&prev.to_be_bytes());
        // SAFETY: entry n is inside the mapping (n < index_num) and unpublished (n ==
        // indexCount), so no reader can be reading it; the single writer writes it once.
        unsafe {
            std::ptr::copy_nonoverlapping(
                e.as_ptr(),
                self.map.as_mut_ptr().add(self.entry_pos(n)),
                ENTRY_LEN,
            );
        }
        if prev == 0 {
            let used = u32::from_be(self.u32_at(32).load(Ordering::Acquire));
            self.u32_at(32).store((used + 1).to_be(), Ordering::Release);
        }
        self.set64(8, store_ts);
        self.set64(24, phy_offset);
        self.u32_at(36).store((n + 1).to_be(), Ordering::Release);
        slot.store(n.to_be(), Ordering::Release);
        true
    }

    /// Physical offsets of entries with `hash` stored within [begin_ms, end_ms], newest first.
    pub(crate) fn query(
        &self,
        hash: u32,
        max: usize,
        begin_ms: i64,
        end_ms: i64,
        out: &mut Vec<i64>,
    ) {
        let mut n = u32::from_be(self.slot(hash).load(Ordering::Acquire));
        let base = self.begin_timestamp();
        while out.len() < max {
            let Some((h, phy, diff, prev)) = self.entry(n) else {
                break;
            };
            let ts = base + i64::from(diff) * 1000;
            // The entry keeps whole seconds: the real time is in [ts, ts + 999]; the caller
            // checks the exact store time on the record.
            if h == hash && ts + 999 >= begin_ms && ts <= end_ms {
                out.push(phy);
            }
            // Links only point backwards; anything else is corruption (avoid loops).
            if prev >= n {
                break;
            }
            n = prev;
        }
    }

    /// Time range overlap with [begin, end] (whole seconds: entries keep time / 1000).
    pub(crate) fn time_matches(&self, begin_ms: i64, end_ms: i64) -> bool {
        !self.is_empty()
            && self.begin_timestamp() <= end_ms
            && self.end_timestamp() + 1000 >= begin_ms
    }

    pub(crate) fn flush(&self) -> std::io::Result<()> {
        self.disk
            .sync_range(&self.path, &self.map, 0, self.map.len())
    }
}
