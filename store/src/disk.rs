//! The durability seam (DESIGN.md §8): every operation whose effect must survive power loss
//! (msync of a range, fsync of a file or a folder, create, resize, rename, delete) goes
//! through `Disk`. In production it is the plain system call behind one branch. Tests install
//! a `DiskObserver` that runs each operation under its own lock and records what became
//! durable, so it can build the files as they would be after a power cut at any point (crash
//! images), or fails an operation to inject a fault.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use memmap2::MmapRaw;

/// One durability-relevant operation, as the observer sees it.
#[derive(Clone, Copy, Debug)]
pub enum DiskOp<'a> {
    /// msync of `len` bytes at `offset` of a mapped file (size and data become durable)
    SyncRange {
        /// the file
        path: &'a Path,
        /// first byte
        offset: usize,
        /// byte count
        len: usize,
    },
    /// fdatasync of a whole file (size and data become durable)
    SyncFile {
        /// the file
        path: &'a Path,
    },
    /// fsync of a folder: its entries (creates, renames, deletes) become durable
    SyncDir {
        /// the folder
        path: &'a Path,
    },
    /// a file opened for writing, created if missing
    OpenFile {
        /// the file
        path: &'a Path,
    },
    /// a file resized (not durable until synced)
    SetLen {
        /// the file
        path: &'a Path,
        /// new size
        len: u64,
    },
    /// a folder created (with any missing parents)
    CreateDir {
        /// the folder
        path: &'a Path,
    },
    /// a file or folder renamed
    Rename {
        /// old name
        from: &'a Path,
        /// new name
        to: &'a Path,
    },
    /// a file deleted
    RemoveFile {
        /// the file
        path: &'a Path,
    },
    /// a folder and everything under it deleted
    RemoveDirAll {
        /// the folder
        path: &'a Path,
    },
}

/// Watches (and may refuse) durability operations; tests only.
pub trait DiskObserver: Send + Sync {
    /// Runs `op` by calling `run`, recording its effect, or returns an error without running
    /// it (fault injection).
    fn observe(
        &self,
        op: DiskOp<'_>,
        run: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> std::io::Result<()>;
}

/// The seam. Cheap to clone; `Disk::default()` is the real disk with no observer.
#[derive(Clone, Default)]
pub struct Disk(Option<Arc<dyn DiskObserver>>);

impl std::fmt::Debug for Disk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Disk(observed)"
        } else {
            "Disk"
        })
    }
}

impl Disk {
    /// A disk whose every durability operation passes through `observer`.
    pub fn observed(observer: Arc<dyn DiskObserver>) -> Self {
        Self(Some(observer))
    }

    fn run(
        &self,
        op: DiskOp<'_>,
        mut f: impl FnMut() -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match &self.0 {
            None => f(),
            Some(o) => o.observe(op, &mut f),
        }
    }

    pub(crate) fn sync_range(
        &self,
        path: &Path,
        map: &MmapRaw,
        offset: usize,
        len: usize,
    ) -> std::io::Result<()> {
        self.run(DiskOp::SyncRange { path, offset, len }, || {
            map.flush_range(offset, len)
        })
    }

    pub(crate) fn sync_file(&self, path: &Path, file: &File) -> std::io::Result<()> {
        self.run(DiskOp::SyncFile { path }, || file.sync_data())
    }

    /// fsync of a folder, so the entries created, renamed or deleted in it survive power loss.
    pub(crate) fn sync_dir(&self, path: &Path) -> std::io::Result<()> {
        self.run(DiskOp::SyncDir { path }, || File::open(path)?.sync_all())
    }

    fn sync_parent(&self, path: &Path) -> std::io::Result<()> {
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => self.sync_dir(dir),
            _ => Ok(()),
        }
    }

    /// Opens a file read-write, creating it if missing (the caller syncs size and folder).
    pub(crate) fn open_file(&self, path: &Path) -> std::io::Result<File> {
        let mut file = None;
        self.run(DiskOp::OpenFile { path }, || {
            file = Some(
                OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(path)?,
            );
            Ok(())
        })?;
        file.ok_or_else(|| std::io::Error::other("open_file: observer did not run the open"))
    }

    pub(crate) fn set_len(&self, path: &Path, file: &File, len: u64) -> std::io::Result<()> {
        self.run(DiskOp::SetLen { path, len }, || file.set_len(len))
    }

    /// Creates a folder and its missing parents; each one created is made durable in its
    /// parent before this returns.
    pub(crate) fn create_dir_all(&self, path: &Path) -> std::io::Result<()> {
        if path.is_dir() {
            return Ok(());
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            self.create_dir_all(parent)?;
        }
        self.run(DiskOp::CreateDir { path }, || {
            match std::fs::create_dir(path) {
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
                r => r,
            }
        })?;
        self.sync_parent(path)
    }

    /// Renames without waiting for it to be durable (the caller syncs the folder later, e.g.
    /// after releasing a lock).
    pub(crate) fn rename_unsynced(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.run(DiskOp::Rename { from, to }, || std::fs::rename(from, to))
    }

    /// Renames and makes the rename durable (one folder, the usual case, or both).
    pub(crate) fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        self.rename_unsynced(from, to)?;
        self.sync_parent(to)?;
        if from.parent() != to.parent() {
            self.sync_parent(from)?;
        }
        Ok(())
    }

    /// Deletes a file and makes the deletion durable.
    pub(crate) fn remove_file(&self, path: &Path) -> std::io::Result<()> {
        self.run(DiskOp::RemoveFile { path }, || std::fs::remove_file(path))?;
        self.sync_parent(path)
    }

    /// Deletes a folder tree and makes the deletion durable.
    pub(crate) fn remove_dir_all(&self, path: &Path) -> std::io::Result<()> {
        self.run(DiskOp::RemoveDirAll { path }, || {
            std::fs::remove_dir_all(path)
        })?;
        self.sync_parent(path)
    }

    /// Replaces `path` with `bytes` so that after power loss it holds the old or the new
    /// content, never a mix or nothing: write `path.tmp`, sync it, rename, sync the folder.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
        let tmp = path.with_extension("tmp");
        let file = self.open_file(&tmp)?;
        self.set_len(&tmp, &file, 0)?;
        (&file).write_all(bytes)?;
        self.sync_file(&tmp, &file)?;
        drop(file);
        self.rename(&tmp, path)
    }
}
