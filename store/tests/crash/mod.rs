//! Crash images: a `DiskObserver` that records, for every durability operation the store
//! makes, what became durable, and replays the record to build the store folder as it would
//! be after a power cut at any point (after the first `k` operations):
//! - a file's content is what its last msync/fsync saw (never-synced bytes are lost);
//! - a folder's entries (files created, renamed, deleted) are what its last fsync saw, so a
//!   file whose folder was not synced after its creation is gone;
//! - a torn image also keeps a random subset of the 4 KiB pages that were written but not
//!   synced (the kernel may write any dirty page back at any time), or of the pages a sync
//!   was writing when the power went.
//!
//! Folders are tracked as inodes, so a renamed folder takes its files along.
#![allow(dead_code)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrumq_store::disk::{DiskObserver, DiskOp};
use parking_lot::Mutex;

/// Tear granularity: a disk sector (a 4 KiB page write can itself be cut short).
pub const PAGE: usize = 512;

type Ino = u64;
const ROOT: Ino = 0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Dir(Ino),
    File(Ino),
}

impl Node {
    fn ino(self) -> Ino {
        match self {
            Node::Dir(i) | Node::File(i) => i,
        }
    }
}

/// A folder tree: (parent inode, name) → node.
#[derive(Clone, Default)]
struct Tree(HashMap<(Ino, OsString), Node>);

impl Tree {
    fn lookup(&self, rel: &Path) -> Option<Node> {
        let mut node = Node::Dir(ROOT);
        for c in rel.components() {
            let Node::Dir(d) = node else { return None };
            node = *self.0.get(&(d, c.as_os_str().to_owned()))?;
        }
        Some(node)
    }

    /// (parent inode, name) of `rel`, if its parent exists.
    fn slot(&self, rel: &Path) -> Option<(Ino, OsString)> {
        let name = rel.file_name()?.to_owned();
        let parent = rel.parent().unwrap_or(Path::new(""));
        match self.lookup(parent)? {
            Node::Dir(d) => Some((d, name)),
            Node::File(_) => None,
        }
    }

    /// Every file reachable from the root, with its relative path.
    fn files(&self) -> Vec<(PathBuf, Ino)> {
        let mut out = Vec::new();
        let mut stack = vec![(PathBuf::new(), ROOT)];
        while let Some((path, dir)) = stack.pop() {
            for ((parent, name), node) in &self.0 {
                if *parent != dir {
                    continue;
                }
                match node {
                    Node::Dir(d) => stack.push((path.join(name), *d)),
                    Node::File(f) => out.push((path.join(name), *f)),
                }
            }
        }
        out
    }

    fn dirs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![(PathBuf::new(), ROOT)];
        while let Some((path, dir)) = stack.pop() {
            for ((parent, name), node) in &self.0 {
                if *parent == dir {
                    if let Node::Dir(d) = node {
                        out.push(path.join(name));
                        stack.push((path.join(name), *d));
                    }
                }
            }
        }
        out
    }
}

/// One recorded effect.
#[derive(Clone)]
pub enum Event {
    /// bytes of a file became durable (`len` is the file's size then)
    Synced {
        ino: Ino,
        offset: usize,
        data: Vec<u8>,
        file_len: usize,
    },
    /// the folder's entries became what they are now (children listed)
    DirSynced {
        dir: Ino,
        entries: Vec<(OsString, Node)>,
    },
    /// everything the store had written, page cache included, at this instant
    Snapshot { files: Vec<(Ino, Vec<u8>)> },
}

impl Event {
    pub fn is_sync(&self) -> bool {
        !matches!(self, Event::Snapshot { .. })
    }
}

struct State {
    root: PathBuf,
    /// the live namespace, as the store changed it
    live: Tree,
    next_ino: Ino,
    events: Vec<Event>,
}

/// The observer. Operations run one at a time under its lock, so the record is in the order
/// the operations really happened.
pub struct Recorder {
    state: Mutex<State>,
    count: AtomicUsize,
}

impl Recorder {
    pub fn new(root: &Path) -> Self {
        Self {
            state: Mutex::new(State {
                root: root.to_path_buf(),
                live: Tree::default(),
                next_ino: 1,
                events: Vec::new(),
            }),
            count: AtomicUsize::new(0),
        }
    }

    /// A recorder for a folder that already holds files, all taken as durable (a crash
    /// image being recovered): its first events describe them.
    pub fn from_existing(root: &Path) -> Self {
        let rec = Self::new(root);
        {
            let mut st = rec.state.lock();
            let mut stack = vec![(root.to_path_buf(), ROOT)];
            while let Some((dir, dir_ino)) = stack.pop() {
                let mut entries = Vec::new();
                for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let ino = st.next_ino;
                    st.next_ino += 1;
                    let name = e.file_name();
                    if e.path().is_dir() {
                        entries.push((name.clone(), Node::Dir(ino)));
                        stack.push((e.path(), ino));
                    } else {
                        entries.push((name.clone(), Node::File(ino)));
                        let data = std::fs::read(e.path()).unwrap_or_default();
                        let file_len = data.len();
                        st.events.push(Event::Synced {
                            ino,
                            offset: 0,
                            data,
                            file_len,
                        });
                    }
                    st.live
                        .0
                        .insert((dir_ino, name), *entries.last().map(|(_, n)| n).unwrap());
                }
                st.events.push(Event::DirSynced {
                    dir: dir_ino,
                    entries,
                });
            }
            rec.count.store(st.events.len(), Ordering::Release);
        }
        rec
    }

    /// Events recorded so far: an image after this many includes everything durable now.
    pub fn position(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Records the files' current content (page cache), for torn images at this instant.
    pub fn snapshot(&self) {
        let mut st = self.state.lock();
        let mut files = Vec::new();
        for (rel, ino) in st.live.files() {
            if let Ok(data) = std::fs::read(st.root.join(&rel)) {
                files.push((ino, data));
            }
        }
        st.events.push(Event::Snapshot { files });
        self.count.store(st.events.len(), Ordering::Release);
    }

    pub fn events(&self) -> Vec<Event> {
        self.state.lock().events.clone()
    }
}

impl State {
    fn rel<'p>(&self, p: &'p Path) -> Option<&'p Path> {
        p.strip_prefix(&self.root).ok()
    }

    fn read_range(&self, path: &Path, offset: usize, len: usize) -> Option<(Vec<u8>, usize)> {
        let f = std::fs::File::open(path).ok()?;
        let file_len = f.metadata().ok()?.len() as usize;
        let len = len.min(file_len.saturating_sub(offset));
        let mut buf = vec![0u8; len];
        f.read_exact_at(&mut buf, offset as u64).ok()?;
        Some((buf, file_len))
    }

    fn apply(&mut self, op: DiskOp<'_>) -> Option<Event> {
        match op {
            DiskOp::SyncRange { path, offset, len } => {
                let Node::File(ino) = self.live.lookup(self.rel(path)?)? else {
                    return None;
                };
                let (data, file_len) = self.read_range(path, offset, len)?;
                Some(Event::Synced {
                    ino,
                    offset,
                    data,
                    file_len,
                })
            }
            DiskOp::SyncFile { path } => {
                let Node::File(ino) = self.live.lookup(self.rel(path)?)? else {
                    return None;
                };
                let (data, file_len) = self.read_range(path, 0, usize::MAX)?;
                Some(Event::Synced {
                    ino,
                    offset: 0,
                    data,
                    file_len,
                })
            }
            DiskOp::SyncDir { path } => {
                let rel = self.rel(path)?;
                let Node::Dir(dir) = self.live.lookup(rel)? else {
                    return None;
                };
                let entries = self
                    .live
                    .0
                    .iter()
                    .filter(|((p, _), _)| *p == dir)
                    .map(|((_, n), node)| (n.clone(), *node))
                    .collect();
                Some(Event::DirSynced { dir, entries })
            }
            DiskOp::OpenFile { path } => {
                let rel = self.rel(path)?.to_path_buf();
                if self.live.lookup(&rel).is_none() {
                    let slot = self.live.slot(&rel)?;
                    let ino = self.next_ino;
                    self.next_ino += 1;
                    self.live.0.insert(slot, Node::File(ino));
                }
                None
            }
            DiskOp::CreateDir { path } => {
                let rel = self.rel(path)?.to_path_buf();
                if rel.as_os_str().is_empty() || self.live.lookup(&rel).is_some() {
                    return None;
                }
                let slot = self.live.slot(&rel)?;
                let ino = self.next_ino;
                self.next_ino += 1;
                self.live.0.insert(slot, Node::Dir(ino));
                None
            }
            DiskOp::Rename { from, to } => {
                let from_slot = self.live.slot(self.rel(from)?)?;
                let to_slot = self.live.slot(self.rel(to)?)?;
                let node = self.live.0.remove(&from_slot)?;
                self.live.0.insert(to_slot, node);
                None
            }
            DiskOp::RemoveFile { path } | DiskOp::RemoveDirAll { path } => {
                let slot = self.live.slot(self.rel(path)?)?;
                self.live.0.remove(&slot);
                None
            }
            DiskOp::SetLen { .. } => None,
        }
    }
}

impl DiskObserver for Recorder {
    fn observe(
        &self,
        op: DiskOp<'_>,
        run: &mut dyn FnMut() -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let mut st = self.state.lock();
        run()?;
        if let Some(ev) = st.apply(op) {
            st.events.push(ev);
            self.count.store(st.events.len(), Ordering::Release);
        }
        Ok(())
    }
}

/// A tiny deterministic generator (xorshift64*), so a failing seed can be replayed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The durable state while replaying events.
#[derive(Default)]
pub struct Replay {
    durable: Tree,
    content: HashMap<Ino, Vec<u8>>,
}

/// Per file, newer bytes (at an offset) a torn image may take sectors from.
type Newer<'a> = HashMap<Ino, (usize, &'a [u8])>;

/// How to tear an image.
pub enum Tear<'a> {
    /// only what was synced
    None,
    /// plus a random subset of the pages of this event (a sync cut short, or writeback of
    /// a snapshot's dirty pages)
    Pages(&'a Event, &'a mut Rng),
}

impl Replay {
    pub fn apply(&mut self, ev: &Event) {
        match ev {
            Event::Synced {
                ino,
                offset,
                data,
                file_len,
            } => {
                let c = self.content.entry(*ino).or_default();
                c.resize(*file_len, 0);
                let end = (offset + data.len()).min(c.len());
                if let (Some(dst), Some(src)) = (
                    c.get_mut(*offset..end),
                    data.get(..end.saturating_sub(*offset)),
                ) {
                    dst.copy_from_slice(src);
                }
            }
            Event::DirSynced { dir, entries } => {
                self.durable.0.retain(|(p, _), _| p != dir);
                for (name, node) in entries {
                    self.durable.0.insert((*dir, name.clone()), *node);
                }
            }
            Event::Snapshot { .. } => {}
        }
    }

    /// Writes the image into `dir` (which must be empty). Returns how many torn pages it took.
    pub fn materialise(&self, dir: &Path, tear: Tear<'_>) -> std::io::Result<usize> {
        for d in self.durable.dirs() {
            std::fs::create_dir_all(dir.join(d))?;
        }
        let mut torn = 0;
        let (extra, mut rng): (Newer<'_>, Option<&mut Rng>) = match tear {
            Tear::None => (HashMap::new(), None),
            Tear::Pages(ev, rng) => {
                let m = match ev {
                    Event::Synced {
                        ino, offset, data, ..
                    } => [(*ino, (*offset, data.as_slice()))].into_iter().collect(),
                    Event::Snapshot { files } => files
                        .iter()
                        .map(|(ino, data)| (*ino, (0usize, data.as_slice())))
                        .collect(),
                    Event::DirSynced { .. } => HashMap::new(),
                };
                (m, Some(rng))
            }
        };
        for (rel, ino) in self.durable.files() {
            let mut data = self.content.get(&ino).cloned().unwrap_or_default();
            if let (Some((off, newer)), Some(rng)) = (extra.get(&ino), rng.as_deref_mut()) {
                // Page by page of the file, keep the newer bytes of a random subset.
                let first_page = off / PAGE;
                let last = off + newer.len();
                let mut page = first_page;
                while page * PAGE < last {
                    let from = (page * PAGE).max(*off);
                    let to = ((page + 1) * PAGE).min(last).min(data.len());
                    if from < to && rng.chance(50) {
                        if let (Some(dst), Some(src)) =
                            (data.get_mut(from..to), newer.get(from - off..to - off))
                        {
                            if dst != src {
                                dst.copy_from_slice(src);
                                torn += 1;
                            }
                        }
                    }
                    page += 1;
                }
            }
            std::fs::write(dir.join(rel), data)?;
        }
        Ok(torn)
    }
}

/// One line about an event (debugging a failing image).
pub fn describe(ev: &Event) -> String {
    match ev {
        Event::Synced {
            ino,
            offset,
            data,
            file_len,
        } => {
            format!(
                "synced ino {ino} at {offset} +{} (file {file_len})",
                data.len()
            )
        }
        Event::DirSynced { dir, entries } => format!(
            "dir {dir} synced: {:?}",
            entries
                .iter()
                .map(|(n, node)| format!("{}={:?}", n.to_string_lossy(), node))
                .collect::<Vec<_>>()
        ),
        Event::Snapshot { files } => format!("snapshot of {} files", files.len()),
    }
}
