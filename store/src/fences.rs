//! Topic fences on disk (DESIGN.md P2): `topicfences`, one `topic fence` line per deleted
//! topic whose old records a restart could still re-dispatch. Without it, a crash soon after
//! a deletion re-dispatched the deleted topic's records from the checkpoint into its
//! recreated queues.

use std::collections::HashMap;
use std::path::Path;

use crate::disk::Disk;

const FILE: &str = "topicfences";

/// The fences saved by `store` (none if the file is missing or unreadable lines).
pub(crate) fn load(root: &Path) -> HashMap<String, u64> {
    let Ok(text) = std::fs::read_to_string(root.join(FILE)) else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|line| {
            let (topic, fence) = line.rsplit_once(' ')?;
            crate::message::validate_topic(topic).ok()?;
            Some((topic.to_string(), fence.parse().ok()?))
        })
        .collect()
}

/// Replaces the file with `fences` (durably; removed when there are none).
pub(crate) fn store(root: &Path, disk: &Disk, fences: &HashMap<String, u64>) {
    let path = root.join(FILE);
    let res = if fences.is_empty() {
        match disk.remove_file(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    } else {
        let text: String = fences.iter().map(|(t, f)| format!("{t} {f}\n")).collect();
        disk.write_atomic(&path, text.as_bytes())
    };
    if let Err(e) = res {
        tracing::error!(path = %path.display(), error = %e,
            "cannot save topic fences: a crash before dispatching passes them may re-dispatch deleted topics' records");
    }
}
