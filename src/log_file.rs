//! The log file: appended to, private to the user (it can quote device names and payloads), and
//! capped in size. Past its cap the file is renamed to `NAME.1`, replacing the previous one, and
//! a new one is begun, so a long-running console or `local serve` never fills the disk. It owns
//! no formatting: `tracing_subscriber` writes through it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The size a log file grows to before it is rotated.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;

#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: File,
    written: u64,
    max: u64,
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

impl LogFile {
    /// Opens (or creates) the log at `path`, rotating past `max` bytes.
    pub fn open(path: &Path, max: u64) -> std::io::Result<Self> {
        let file = open(path)?;
        let written = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            file,
            written,
            max,
        })
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, &old)?;
        self.file = open(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for LogFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max {
            // A log that cannot rotate keeps writing where it is.
            let _ = self.rotate();
        }
        let written = self.file.write(buf)?;
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_past_its_cap_keeping_one_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iotfleet.log");
        let mut log = LogFile::open(&path, 100).unwrap();
        for i in 0..30 {
            writeln!(log, "line {i:03} of the log").unwrap();
        }
        let size = |p: &Path| std::fs::metadata(p).unwrap().len();
        assert!(size(&path) <= 100, "{}", size(&path));
        let old = dir.path().join("iotfleet.log.1");
        assert!(size(&old) <= 100);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        assert!(std::fs::read_to_string(&path).unwrap().contains("line 029"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
