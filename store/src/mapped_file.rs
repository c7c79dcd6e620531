//! A memory-mapped file of fixed size and the ordered queue of them (DESIGN.md §5).
//!
//! Writes go through a raw pointer into a shared mapping (`MmapRaw`, no Rust references to the
//! mapping exist except the read slices handed out below `wrote_pos`). The one writer (per file,
//! serialised by `write_lock`) only writes at or beyond `wrote_pos` and publishes the new end
//! with a Release store; readers load `wrote_pos` with Acquire and only slice below it, so a
//! byte is never written while a reader can see it (DESIGN.md invariant M1).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use memmap2::{MmapOptions, MmapRaw};
use parking_lot::{Mutex, RwLock};

use crate::disk::Disk;
use crate::error::StoreError;

/// How a mapped file gets its disk blocks (invariant A1: allocated before written).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Allocation {
    /// All of it when the file is created (CommitLog files: the append lock never waits on
    /// the file system, and a full disk fails the roll, not a write).
    Whole,
    /// `ALLOC_CHUNK_BYTES` at a time ahead of the writes (ConsumeQueues: thousands of mostly
    /// idle queues must not each take a whole file of disk).
    Chunks,
}

/// Allocation step of `Allocation::Chunks` files.
const ALLOC_CHUNK_BYTES: usize = 64 * 1024;

/// One mapped file.
pub(crate) struct MappedFile {
    path: PathBuf,
    file: File,
    map: MmapRaw,
    start_offset: u64,
    size: usize,
    wrote_pos: AtomicUsize,
    flushed_pos: AtomicUsize,
    write_lock: Mutex<()>,
    deleted: AtomicBool,
    /// bytes from the start known to have disk blocks
    allocated: AtomicUsize,
    disk: Disk,
}

/// A name for a file starting at `offset`: 20 decimal digits.
pub(crate) fn file_name(offset: u64) -> String {
    format!("{offset:020}")
}

impl MappedFile {
    /// Opens or creates a file of `size` bytes and maps it. A file created here (or grown to
    /// its size) gets its blocks per `allocation`, then its size and its name are made durable
    /// before anything is written to it (a record acknowledged in it must not vanish with the
    /// file after power loss); on a full disk it is removed again and the error is `NoSpace`.
    /// Existing files are opened as they are, so a full disk never stops the store from
    /// opening and serving reads.
    pub(crate) fn open(
        path: &Path,
        start_offset: u64,
        size: usize,
        allocation: Allocation,
        disk: &Disk,
    ) -> Result<Self, StoreError> {
        let err = |e| StoreError::io(path, e);
        let file = disk.open_file(path).map_err(err)?;
        let len = file.metadata().map_err(err)?.len();
        if len != size as u64 {
            if len > size as u64 {
                return Err(err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("file is {len} bytes, configured size is {size}"),
                )));
            }
            disk.set_len(path, &file, size as u64).map_err(err)?;
            let first = match allocation {
                Allocation::Whole => size,
                Allocation::Chunks => ALLOC_CHUNK_BYTES.min(size),
            };
            if let Err(e) = crate::alloc::allocate(&file, path, 0, first as u64) {
                if len == 0 {
                    let _ = disk.remove_file(path);
                }
                return Err(e);
            }
            disk.sync_file(path, &file).map_err(err)?;
            if len == 0 {
                disk.sync_dir(path.parent().unwrap_or(Path::new(".")))
                    .map_err(err)?;
            }
        }
        let map = MmapOptions::new().len(size).map_raw(&file).map_err(err)?;
        if allocation == Allocation::Chunks {
            // A ConsumeQueue page is touched 20 bytes at a time. With readahead, the first
            // write to a page of a fresh file faulted in (and zeroed) a whole readahead window:
            // with 10,000 queues that kept the dispatcher busy zeroing memory instead of
            // dispatching (seconds behind, and a shutdown that had to catch up).
            if let Err(e) = map.advise(memmap2::Advice::Random) {
                tracing::debug!(path = %path.display(), error = %e, "madvise(RANDOM) failed");
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            file,
            map,
            start_offset,
            size,
            wrote_pos: AtomicUsize::new(0),
            flushed_pos: AtomicUsize::new(0),
            write_lock: Mutex::new(()),
            deleted: AtomicBool::new(false),
            allocated: AtomicUsize::new(0),
            disk: disk.clone(),
        })
    }

    /// Makes sure `..end` has disk blocks before it is written (chunked files), allocating
    /// from what is known to be allocated up to the next chunk boundary. A file opened at start
    /// knows nothing yet and allocates from 0 once: allocating blocks it already has is a
    /// no-op.
    pub(crate) fn ensure_allocated(&self, end: usize) -> Result<(), StoreError> {
        let from = self.allocated.load(Ordering::Acquire);
        if end <= from {
            return Ok(());
        }
        let upto = end
            .div_ceil(ALLOC_CHUNK_BYTES)
            .saturating_mul(ALLOC_CHUNK_BYTES)
            .min(self.size);
        let len = upto.saturating_sub(from) as u64;
        crate::alloc::allocate(&self.file, &self.path, from as u64, len)?;
        self.allocated.fetch_max(upto, Ordering::AcqRel);
        Ok(())
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
    pub(crate) fn start_offset(&self) -> u64 {
        self.start_offset
    }
    pub(crate) fn size(&self) -> usize {
        self.size
    }
    pub(crate) fn end_offset(&self) -> u64 {
        self.start_offset + self.size as u64
    }
    /// Published write position (Acquire).
    pub(crate) fn wrote_pos(&self) -> usize {
        self.wrote_pos.load(Ordering::Acquire)
    }
    pub(crate) fn flushed_pos(&self) -> usize {
        self.flushed_pos.load(Ordering::Acquire)
    }
    pub(crate) fn is_full(&self) -> bool {
        self.wrote_pos() >= self.size
    }

    /// Copies `data` to `pos` (>= the write position) and publishes `pos + data.len()`.
    /// Bytes between the old write position and `pos` are left as they are (zeros in a fresh
    /// file). Returns false if it does not fit or `pos` is behind the write position.
    pub(crate) fn write_at(&self, pos: usize, data: &[u8]) -> bool {
        let _g = self.write_lock.lock();
        let cur = self.wrote_pos.load(Ordering::Relaxed);
        let Some(end) = pos.checked_add(data.len()) else {
            return false;
        };
        if pos < cur || end > self.size {
            return false;
        }
        // SAFETY: `pos..end` lies inside the mapping (end <= size == mapping length). No reader
        // can hold a slice there: readers only slice below the published `wrote_pos` (<= pos),
        // and `write_lock` makes this the only writer. `data` cannot overlap the mapping's
        // unpublished region since nobody else has a reference into it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.map.as_mut_ptr().add(pos),
                data.len(),
            );
        }
        self.wrote_pos.store(end, Ordering::Release);
        true
    }

    /// Marks the file full without writing (the tail is a blank marker already or zeros).
    pub(crate) fn mark_full(&self) {
        let _g = self.write_lock.lock();
        self.wrote_pos.store(self.size, Ordering::Release);
    }

    /// A borrowed view of published bytes.
    pub(crate) fn read(&self, pos: usize, len: usize) -> Option<&[u8]> {
        let end = pos.checked_add(len)?;
        if end > self.wrote_pos() {
            return None;
        }
        // SAFETY: `pos..end` is below the published write position, so it is inside the mapping
        // and never written again while the file is mapped (invariant M1; recovery truncation
        // runs before any reader exists). The mapping lives as long as `self`.
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(pos), len) })
    }

    /// A zero-copy `Bytes` of published bytes that keeps the mapping alive.
    pub(crate) fn slice(self: &Arc<Self>, pos: usize, len: usize) -> Option<Bytes> {
        self.read(pos, len)?;
        Some(Bytes::from_owner(MappedSlice {
            file: self.clone(),
            pos,
            len,
        }))
    }

    /// Recovery: sets the write position to `pos` and zeroes everything after it, so stale
    /// bytes can never be read back as records (invariant R2).
    ///
    /// # Safety
    /// No reader may hold a slice at or beyond `pos` (call only while recovering, before the
    /// store is shared, or for a file no reader has seen).
    pub(crate) unsafe fn truncate_to(&self, pos: usize) -> Result<(), StoreError> {
        let _g = self.write_lock.lock();
        let pos = pos.min(self.size);
        // Shrinking the file drops the pages after `pos` (and zeroes the partial page);
        // growing it back gives sparse zeros. Cheap even for a 1 GiB file. The cut is made
        // durable: stale records left past it by a second power cut could otherwise line up
        // behind new ones and be recovered as if they had been written after them.
        let err = |e| StoreError::io(&self.path, e);
        self.disk
            .set_len(&self.path, &self.file, pos as u64)
            .map_err(err)?;
        self.disk
            .set_len(&self.path, &self.file, self.size as u64)
            .map_err(err)?;
        crate::alloc::allocate(&self.file, &self.path, pos as u64, (self.size - pos) as u64)?;
        self.disk.sync_file(&self.path, &self.file).map_err(err)?;
        self.allocated.store(self.size, Ordering::Release);
        self.wrote_pos.store(pos, Ordering::Release);
        self.flushed_pos.fetch_min(pos, Ordering::AcqRel);
        Ok(())
    }

    /// Sets the write position without touching bytes (recovery, file known good up to pos).
    pub(crate) fn set_recovered_pos(&self, pos: usize) {
        let _g = self.write_lock.lock();
        let pos = pos.min(self.size);
        self.wrote_pos.store(pos, Ordering::Release);
        self.flushed_pos.store(pos, Ordering::Release);
    }

    /// Pre-faults `pos..pos+len` writable (MADV_POPULATE_WRITE) so the appender does not pay
    /// for page allocation and zeroing. Content is unchanged (zeros stay zeros), so this is
    /// compatible with invariant M1 even beyond the write position.
    pub(crate) fn warm(&self, pos: usize, len: usize) -> std::io::Result<()> {
        let len = len.min(self.size.saturating_sub(pos));
        if len == 0 {
            return Ok(());
        }
        self.map
            .advise_range(memmap2::Advice::PopulateWrite, pos, len)
    }

    /// msync of the written but unflushed range. Returns the flushed position.
    pub(crate) fn flush(&self) -> std::io::Result<usize> {
        let wrote = self.wrote_pos();
        let flushed = self.flushed_pos();
        if wrote > flushed {
            self.disk
                .sync_range(&self.path, &self.map, flushed, wrote - flushed)?;
            self.flushed_pos.fetch_max(wrote, Ordering::AcqRel);
        }
        Ok(wrote.max(flushed))
    }

    /// Unlinks the file; the mapping stays valid for readers still holding it.
    pub(crate) fn destroy(&self) {
        if !self.deleted.swap(true, Ordering::AcqRel) {
            if let Err(e) = self.disk.remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot delete file");
            }
        }
    }

    /// Modification time in ms since the epoch.
    pub(crate) fn mtime_ms(&self) -> i64 {
        self.file
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// Owner behind a zero-copy `Bytes`.
struct MappedSlice {
    file: Arc<MappedFile>,
    pos: usize,
    len: usize,
}

impl AsRef<[u8]> for MappedSlice {
    fn as_ref(&self) -> &[u8] {
        // `slice` checked the range when this was built and published bytes never change.
        self.file.read(self.pos, self.len).unwrap_or(&[])
    }
}

/// Files of one log, ordered by start offset, named by it.
pub(crate) struct MappedFileQueue {
    dir: PathBuf,
    file_size: usize,
    allocation: Allocation,
    files: RwLock<Vec<Arc<MappedFile>>>,
    disk: Disk,
}

impl MappedFileQueue {
    /// Maps every file in `dir` whose name is a number (write positions are 0 until recovery).
    pub(crate) fn load(
        dir: &Path,
        file_size: usize,
        allocation: Allocation,
        disk: &Disk,
    ) -> Result<Self, StoreError> {
        disk.create_dir_all(dir)
            .map_err(|e| StoreError::io(dir, e))?;
        let mut names: Vec<(u64, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(dir, e))?;
            let name = entry.file_name();
            let Some(start) = name
                .to_str()
                .and_then(|n| (n.len() == 20).then(|| n.parse::<u64>().ok()).flatten())
            else {
                continue;
            };
            names.push((start, entry.path()));
        }
        names.sort();
        let mut files = Vec::with_capacity(names.len());
        for (start, path) in names {
            if start % file_size as u64 != 0 {
                tracing::warn!(path = %path.display(), "file name not a multiple of the file size; ignored");
                continue;
            }
            files.push(Arc::new(MappedFile::open(
                &path, start, file_size, allocation, disk,
            )?));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            file_size,
            allocation,
            files: RwLock::new(files),
            disk: disk.clone(),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
    pub(crate) fn snapshot(&self) -> Vec<Arc<MappedFile>> {
        self.files.read().clone()
    }
    pub(crate) fn len(&self) -> usize {
        self.files.read().len()
    }
    pub(crate) fn first(&self) -> Option<Arc<MappedFile>> {
        self.files.read().first().cloned()
    }
    pub(crate) fn last(&self) -> Option<Arc<MappedFile>> {
        self.files.read().last().cloned()
    }

    /// The file holding `offset`.
    pub(crate) fn find(&self, offset: u64) -> Option<Arc<MappedFile>> {
        let files = self.files.read();
        let idx = files
            .partition_point(|f| f.start_offset() <= offset)
            .checked_sub(1)?;
        let f = files.get(idx)?;
        (offset < f.end_offset()).then(|| f.clone())
    }

    /// Opens (creating if needed) the file starting at `start` without adding it to the queue.
    pub(crate) fn open_detached(&self, start: u64) -> Result<Arc<MappedFile>, StoreError> {
        Ok(Arc::new(MappedFile::open(
            &self.dir.join(file_name(start)),
            start,
            self.file_size,
            self.allocation,
            &self.disk,
        )?))
    }

    /// Appends a file made by `open_detached` (it must follow the last file).
    pub(crate) fn push(&self, f: Arc<MappedFile>) -> Result<Arc<MappedFile>, StoreError> {
        let mut files = self.files.write();
        if let Some(last) = files.last() {
            if last.end_offset() != f.start_offset() {
                return Err(StoreError::MessageIllegal(format!(
                    "file {} does not follow {}",
                    f.start_offset(),
                    last.start_offset()
                )));
            }
        }
        files.push(f.clone());
        Ok(f)
    }

    /// Creates (or reopens) the file starting at `start` and appends it to the queue.
    pub(crate) fn create(&self, start: u64) -> Result<Arc<MappedFile>, StoreError> {
        let mut files = self.files.write();
        if let Some(last) = files.last() {
            if last.start_offset() >= start {
                return Err(StoreError::MessageIllegal(format!(
                    "file {start} would not follow {}",
                    last.start_offset()
                )));
            }
        }
        let f = Arc::new(MappedFile::open(
            &self.dir.join(file_name(start)),
            start,
            self.file_size,
            self.allocation,
            &self.disk,
        )?);
        files.push(f.clone());
        Ok(f)
    }

    /// Removes and unlinks files for which `pred` holds, only from the front, never the last.
    pub(crate) fn delete_front_while(
        &self,
        max: usize,
        mut pred: impl FnMut(&MappedFile) -> bool,
    ) -> usize {
        let mut files = self.files.write();
        let mut n = 0;
        while n < max && files.len() > 1 {
            match files.first() {
                Some(f) if pred(f) => {
                    f.destroy();
                    files.remove(0);
                    n += 1;
                }
                _ => break,
            }
        }
        n
    }

    /// Removes and unlinks every file starting at or after `start` (recovery).
    pub(crate) fn delete_from(&self, start: u64) {
        let mut files = self.files.write();
        while files.last().is_some_and(|f| f.start_offset() >= start) {
            if let Some(f) = files.pop() {
                tracing::warn!(path = %f.path().display(), "deleting file past the recovered end");
                f.destroy();
            }
        }
    }

    /// msync of every file with unflushed bytes, oldest first.
    pub(crate) fn flush(&self) -> std::io::Result<()> {
        for f in self.snapshot() {
            if f.wrote_pos() > f.flushed_pos() {
                f.flush()?;
            }
        }
        Ok(())
    }
}
