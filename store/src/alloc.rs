//! Disk space for mapped files is allocated before any byte is written through the mapping:
//! writing to a mapped page whose blocks cannot be allocated raises SIGBUS, which would kill
//! the broker inside the append lock. With blocks allocated up front, a full disk is an
//! `ENOSPC` from `fallocate`, turned into `StoreError::NoSpace` (DESIGN.md §5, A1).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::StoreError;

/// Set once a file system said it cannot fallocate: warned about once, then files stay sparse.
static UNSUPPORTED_WARNED: AtomicBool = AtomicBool::new(false);

/// Allocates `offset..offset+len` of `file`, keeping its size.
pub(crate) fn allocate(file: &File, path: &Path, offset: u64, len: u64) -> Result<(), StoreError> {
    if len == 0 {
        return Ok(());
    }
    let (Ok(off), Ok(n)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(StoreError::MessageIllegal(format!(
            "allocation {offset}+{len} out of range"
        )));
    };
    // SAFETY: fallocate only reads its integer arguments and acts on the open descriptor,
    // which `file` keeps alive for the call; mode 0 allocates without changing content.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, off, n) };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => Err(StoreError::NoSpace(path.to_path_buf())),
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => {
            if !UNSUPPORTED_WARNED.swap(true, Ordering::Relaxed) {
                tracing::warn!(path = %path.display(),
                    "file system cannot pre-allocate: a full disk may crash the broker (SIGBUS)");
            }
            Ok(())
        }
        _ => Err(StoreError::io(path, e)),
    }
}
