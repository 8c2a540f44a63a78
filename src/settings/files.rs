//! Reading the files an operator names (config, template, themes, var files, the log file):
//! only regular files, so a FIFO or a device given by mistake is refused at once instead of
//! blocking kiln on a read that never ends.

use std::io;
use std::path::Path;

/// An error when `path` exists and is not a regular file.
pub fn ensure_regular(path: &Path) -> io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "not a regular file ({})",
                if m.is_dir() {
                    "a directory"
                } else {
                    "a FIFO, socket or device"
                }
            ),
        )),
        _ => Ok(()),
    }
}

/// Reads a regular file to a string.
pub fn read_regular(path: &Path) -> io::Result<String> {
    ensure_regular(path)?;
    std::fs::read_to_string(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_and_a_directory_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = read_regular(&fifo).unwrap_err();
        assert!(e.to_string().contains("FIFO"), "{e}");
        assert!(
            read_regular(dir.path())
                .unwrap_err()
                .to_string()
                .contains("directory")
        );
        let f = dir.path().join("f");
        std::fs::write(&f, "x").unwrap();
        assert_eq!(read_regular(&f).unwrap(), "x");
        assert_eq!(
            read_regular(&dir.path().join("missing"))
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
    }
}
