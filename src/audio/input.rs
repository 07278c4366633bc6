//! Where WAV bytes come from: memory, or a file read a block at a time.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// WAV bytes in memory, or an open file and its length.
#[derive(Debug)]
pub(crate) enum Input<'a> {
    Bytes(&'a [u8]),
    File { file: File, len: u64 },
}

impl Input<'_> {
    pub fn len(&self) -> u64 {
        match self {
            Self::Bytes(b) => b.len() as u64,
            Self::File { len, .. } => *len,
        }
    }

    /// Reads into `buf` from byte `at`, as much as there is: fewer bytes
    /// only at the end of the input.
    pub fn read_at(&mut self, at: u64, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Bytes(b) => {
                let start = (at.min(b.len() as u64)) as usize;
                let n = buf.len().min(b.len() - start);
                buf[..n].copy_from_slice(&b[start..start + n]);
                Ok(n)
            }
            Self::File { file, .. } => {
                file.seek(SeekFrom::Start(at))?;
                let mut filled = 0;
                while filled < buf.len() {
                    match file.read(&mut buf[filled..]) {
                        Ok(0) => break,
                        Ok(n) => filled += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(filled)
            }
        }
    }

    /// [`Self::read_at`] that must fill `buf`.
    pub fn read_exact_at(&mut self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        if self.read_at(at, buf)? < buf.len() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}
