//! The lock that lets one process at a time create and migrate a database:
//! an OS advisory lock (`flock`) on `<database>.lock` beside it. Two
//! daemons, a daemon and a cron `run --once`, or two `sync`s may open a new
//! database together; SQLite's own locking does not serialise sqlx's
//! migrator (it reads the applied versions, then applies each migration in
//! a transaction of its own), so without this both would apply migration 1.
//! The lock is held from the first look at the file to the end of the
//! migration and audit chaining, then released; read-only opens never take
//! it. The file stays (removing it would let a third process lock a new
//! file while a second still holds the old one).

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::StoreError;

/// How long an open waits for another process's migration to finish.
pub(super) const LOCK_WAIT: Duration = Duration::from_secs(30);
/// How often a waiting open tries again.
const RETRY: Duration = Duration::from_millis(50);

/// The lock file of the database at `database`: its name plus `.lock`.
#[must_use]
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Held while a database is created and migrated; dropping it (closing the
/// file) releases the lock.
#[derive(Debug)]
pub(super) struct MigrationLock {
    _file: File,
}

/// Takes the migration lock of `database`, waiting up to `wait` for
/// another process (or another open in this one) to release it.
pub(super) async fn acquire(database: &Path, wait: Duration) -> Result<MigrationLock, StoreError> {
    let lock = lock_path(database);
    let failed = |source: std::io::Error| StoreError::Lock {
        path: database.to_path_buf(),
        lock: lock.clone(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock)
        .map_err(failed)?;
    let attempts = async {
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(()),
                Err(TryLockError::WouldBlock) => tokio::time::sleep(RETRY).await,
                Err(TryLockError::Error(source)) => return Err(source),
            }
        }
    };
    match tokio::time::timeout(wait, attempts).await {
        Ok(Ok(())) => Ok(MigrationLock { _file: file }),
        Ok(Err(source)) => Err(failed(source)),
        Err(_) => Err(StoreError::Locked {
            path: database.to_path_buf(),
            lock,
            waited: wait,
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn the_lock_file_is_beside_the_database() {
        assert_eq!(
            lock_path(Path::new("/var/lib/supplywatch/watch.db")),
            Path::new("/var/lib/supplywatch/watch.db.lock")
        );
    }

    #[tokio::test]
    async fn a_held_lock_is_waited_for_within_a_bound() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("watch.db");
        let held = acquire(&db, LOCK_WAIT).await.unwrap();
        match acquire(&db, Duration::from_millis(200)).await {
            Err(e @ StoreError::Locked { .. }) => {
                let shown = e.to_string();
                assert!(shown.contains(&db.display().to_string()), "{shown}");
                assert!(shown.contains("another supplywatch"), "{shown}");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(held);
        let again = acquire(&db, Duration::from_millis(200)).await;
        assert!(again.is_ok(), "{again:?}");
        let mode = std::fs::metadata(lock_path(&db))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
