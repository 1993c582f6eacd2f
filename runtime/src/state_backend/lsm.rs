//! One keyed operator subtask's embedded LSM store: a [`fjall::Database`] in
//! its own local directory (removed when the store is dropped: state is
//! rebuilt from checkpoints after a restart), one keyspace per registered
//! state, keys prefixed by their key group.

use std::path::{Path, PathBuf};

use fjall::{Database, Keyspace, KeyspaceCreateOptions};

use super::{LsmSettings, MemorySplit, StateBackendError};

/// Length of the key-group prefix of every stored key (big-endian `u16`).
pub const KEY_GROUP_PREFIX: usize = 2;

/// The key-group prefix of stored keys.
#[inline]
pub fn group_prefix(kg: u32) -> [u8; KEY_GROUP_PREFIX] {
    (kg as u16).to_be_bytes()
}

/// An embedded LSM store for one keyed operator subtask.
pub struct LsmStore {
    db: Database,
    dir: PathBuf,
    split: MemorySplit,
    keyspaces: u32,
}

impl LsmStore {
    /// Opens a fresh store in `settings.dir/<name>` (any leftover of an
    /// earlier attempt there is removed first). `name` is made of the
    /// operator's uid and subtask, any other character than `[A-Za-z0-9_-]`
    /// replaced.
    ///
    /// Errors: [`StateBackendError::Engine`] naming the directory.
    pub fn open(settings: &LsmSettings, name: &str) -> Result<Self, StateBackendError> {
        let safe: String =
            name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
        let dir = settings.dir.join(safe);
        let engine = |what: &str, source: fjall::Error| StateBackendError::Engine {
            dir: dir.display().to_string(),
            what: what.to_string(),
            source,
        };
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| engine("removing a leftover store", e.into()))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| engine("creating the directory", e.into()))?;
        let split = settings.split();
        let db = Database::builder(&dir)
            .cache_size(split.block_cache)
            // Durability comes from checkpoints, never from the journal: no syncs.
            .manual_journal_persist(true)
            .worker_threads(1)
            .temporary(true)
            .open()
            .map_err(|e| engine("opening", e))?;
        Ok(LsmStore { db, dir, split, keyspaces: 0 })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How the memory budget is split.
    pub fn split(&self) -> MemorySplit {
        self.split
    }

    /// A new keyspace for the state registered as `state` (named by its
    /// registration order: state names are user text).
    ///
    /// Errors: [`StateBackendError::Engine`].
    pub fn keyspace(&mut self, state: &str) -> Result<Keyspace, StateBackendError> {
        let name = format!("s{}", self.keyspaces);
        self.keyspaces += 1;
        let memtable = self.split.memtable;
        self.db
            .keyspace(&name, || {
                KeyspaceCreateOptions::default().manual_journal_persist(true).max_memtable_size(memtable)
            })
            .map_err(|e| self.error(&format!("opening keyspace for state '{state}'"), e))
    }

    /// The engine's handle, for write batches.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// An engine error in this store, `what` saying what was done.
    pub fn error(&self, what: &str, source: fjall::Error) -> StateBackendError {
        StateBackendError::Engine { dir: self.dir.display().to_string(), what: what.to_string(), source }
    }

    /// Bytes the store occupies on disk (tables and journals).
    ///
    /// Errors: [`StateBackendError::Engine`].
    pub fn disk_space(&self) -> Result<u64, StateBackendError> {
        self.db.disk_space().map_err(|e| self.error("measuring disk space", e))
    }
}

/// Calls `f(key without its prefix, value)` for every entry of key group `kg`
/// in `ks`, in key order.
///
/// Errors: [`fjall::Error`] reading.
pub fn scan_group(
    ks: &Keyspace,
    kg: u32,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<(), StateBackendError>,
    err: impl Fn(fjall::Error) -> StateBackendError,
) -> Result<(), StateBackendError> {
    for guard in ks.prefix(group_prefix(kg)) {
        let (k, v) = guard.into_inner().map_err(&err)?;
        f(&k[KEY_GROUP_PREFIX..], &v)?;
    }
    Ok(())
}

/// Deletes every entry of key groups `first..=last` from `ks` (a range
/// scan, then one write batch); returns how many were deleted.
///
/// Errors: [`fjall::Error`] reading or writing.
pub fn delete_groups(db: &Database, ks: &Keyspace, first: u32, last: u32) -> Result<usize, fjall::Error> {
    let (from, to) = (group_prefix(first), group_prefix(last));
    let mut batch = db.batch();
    let mut n = 0;
    for guard in ks.range(from.as_slice()..) {
        let k = guard.key()?;
        if k[..KEY_GROUP_PREFIX] > to[..] {
            break;
        }
        batch.remove(ks, k);
        n += 1;
    }
    batch.commit()?;
    Ok(n)
}
