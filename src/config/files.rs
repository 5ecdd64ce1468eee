//! Files the config names (`probe.extra_roots`, `email.password_file`):
//! read only when they are regular files, and only up to a size cap, so
//! that `/dev/zero`, a FIFO or a huge file cannot exhaust memory or hang
//! loading.

use std::fs::{File, Metadata};
use std::io::Read as _;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

/// A CA bundle larger than this is refused.
pub const MAX_ROOTS_BYTES: u64 = 1024 * 1024;
/// A password file larger than this is refused.
pub const MAX_PASSWORD_BYTES: u64 = 4 * 1024;

/// Why a file the config names was not read. The text is the message of a
/// located diagnostic.
///
/// The I/O error is part of the message rather than a `source`: the
/// message already says it, and a cause chain printed with `{:#}` would
/// say it twice.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot read {}: {error}", path.display())]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A directory, FIFO, device or socket; `wanted` says what to give.
    #[error("{} is not a regular file ({kind}); {wanted}", path.display())]
    NotRegular {
        path: PathBuf,
        kind: &'static str,
        wanted: String,
    },
    #[error(
        "{} is {size} bytes, more than the {} this file may have; is it the right file?",
        path.display(),
        human(*max)
    )]
    TooLarge { path: PathBuf, size: u64, max: u64 },
}

/// A file that was read, and the permission bits it had.
pub(crate) struct Contents {
    pub bytes: Vec<u8>,
    pub mode: u32,
}

/// Reads `path` whole when it is a regular file of at most `max` bytes.
/// `wanted` finishes the refusal of a non-regular file ("give the path of
/// a PEM file").
///
/// The type is checked before opening: opening a FIFO for reading would
/// block until a writer came. It is checked again on the opened file, which
/// is what is read, and the read itself stops past `max` — a file growing
/// or swapped in between is still bounded.
///
/// # Errors
/// [`FileError`]: the file cannot be read, is not a regular file, or is
/// larger than `max`.
pub(crate) fn read_regular(path: &Path, max: u64, wanted: &str) -> Result<Contents, FileError> {
    let refuse = |meta: &Metadata| -> Result<(), FileError> {
        if meta.is_file() {
            return Ok(());
        }
        Err(FileError::NotRegular {
            path: path.to_owned(),
            kind: kind(meta),
            wanted: wanted.to_owned(),
        })
    };
    let unreadable = |error| FileError::Unreadable {
        path: path.to_owned(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    refuse(&meta)?;
    let file = File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    refuse(&meta)?;
    let too_large = |size: u64| FileError::TooLarge {
        path: path.to_owned(),
        size,
        max,
    };
    if meta.len() > max {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > max {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Contents {
        bytes,
        mode: meta.permissions().mode() & 0o7777,
    })
}

/// What a non-regular file is, for the message.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// `1 MiB`, `4 KiB`, or bytes.
fn human(bytes: u64) -> String {
    if bytes >= 1024 * 1024 && bytes.is_multiple_of(1024 * 1024) {
        format!("{} MiB", bytes / (1024 * 1024))
    } else if bytes >= 1024 && bytes.is_multiple_of(1024) {
        format!("{} KiB", bytes / 1024)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(MAX_ROOTS_BYTES), "1 MiB");
        assert_eq!(human(MAX_PASSWORD_BYTES), "4 KiB");
        assert_eq!(human(1000), "1000 bytes");
    }

    #[test]
    fn devices_and_folders_are_refused_without_reading() {
        let why = read_regular(Path::new("/dev/zero"), 16, "give a file")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            why.as_deref(),
            Some("/dev/zero is not a regular file (a character device); give a file")
        );
        let why = read_regular(Path::new("/"), 16, "give a file").err();
        assert!(why.is_some_and(|w| w.to_string().contains("(a directory)")));
    }
}
