//! Reading a file a user names (a custodian's statement, a reconciliation report): only a
//! regular file, and only up to a limit, so a FIFO, a device or a huge file named by mistake or
//! malice is refused at once instead of blocking or filling memory.

use std::io::Read as _;
use std::path::Path;

/// The bytes of the regular file at `path`, refused (`InvalidInput`) when it is not a regular
/// file or holds more than `max` bytes. The type is checked on the opened file, not the name:
/// what is read is what was checked.
pub fn read_regular(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO for reading blocks until a writer comes: open without waiting, then
    // refuse it by its type (a regular file reads the same either way).
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        const O_NONBLOCK: i32 = 0o4000;
        options.custom_flags(O_NONBLOCK);
    }
    let file = options.open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file (a directory, FIFO or device is not read)"));
    }
    let too_large = || std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("larger than the {max} bytes read at most"));
    if metadata.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(metadata.len()).unwrap_or(0));
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_regular_file_within_the_limit_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("statement.csv");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"0123456789");
        assert!(read_regular(&file, 9).unwrap_err().to_string().contains("larger than the 9 bytes"));
        assert!(read_regular(dir.path(), 10).unwrap_err().to_string().contains("not a regular file"));
        #[cfg(unix)]
        assert!(read_regular(Path::new("/dev/zero"), 10).unwrap_err().to_string().contains("not a regular file"));
        // A FIFO with no writer: refused at once, not waited on.
        #[cfg(target_os = "linux")]
        {
            let fifo = dir.path().join("report.json");
            assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
            assert!(read_regular(&fifo, 10).unwrap_err().to_string().contains("not a regular file"));
        }
        assert_eq!(read_regular(&dir.path().join("missing"), 10).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
}
