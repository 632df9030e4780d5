//! The embedded store's files are readable by their owner only (0600), whatever the umask: they
//! hold refresh tokens. SQLite creates `-wal`/`-shm` with the database file's mode, so creating
//! the database file first with 0600 covers all three.

use std::io;

#[cfg(unix)]
pub fn create_owner_only(path: &str) -> io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    // `mode` is filtered by the umask, so it is set again explicitly below.
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
pub fn create_owner_only(_path: &str) -> io::Result<()> {
    Ok(())
}

/// Tightens existing `-wal`/`-shm` files (left by an older version or another tool); best effort.
#[cfg(unix)]
pub fn restrict_companions(path: &str) {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["-wal", "-shm", "-journal"] {
        let p = format!("{path}{suffix}");
        if std::path::Path::new(&p).exists() {
            let _ = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600));
        }
    }
}

#[cfg(not(unix))]
pub fn restrict_companions(_path: &str) {}
