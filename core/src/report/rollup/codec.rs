//! The byte encoding of rollups: LEB128 varints, zigzag for signed values, and
//! length-prefixed UTF-8 strings. Small values take one byte, which is most of them.

/// Appends values to a byte buffer.
#[derive(Debug, Default)]
pub struct Writer {
    bytes: Vec<u8>,
}

impl Writer {
    /// An unsigned varint.
    pub fn u64(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.bytes.push(byte);
                return;
            }
            self.bytes.push(byte | 0x80);
        }
    }

    /// A signed varint (zigzag).
    pub fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    /// A length-prefixed string.
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes.extend_from_slice(s.as_bytes());
    }

    /// An optional string: 0 for none, else 1 + length.
    pub fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u64(0),
            Some(s) => {
                self.u64(s.len() as u64 + 1);
                self.bytes.extend_from_slice(s.as_bytes());
            }
        }
    }

    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.bytes
    }
}

/// Reads values written by [`Writer`]; every read fails cleanly on truncated or
/// malformed input.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// An unsigned varint.
    pub fn u64(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .bytes
                .split_first()
                .ok_or("the rollup ends inside a number")?;
            self.bytes = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("a number in the rollup is longer than 64 bits".into())
    }

    /// A signed varint.
    pub fn i64(&mut self) -> Result<i64, String> {
        let v = self.u64()?;
        Ok((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn take(&mut self, len: u64) -> Result<String, String> {
        let len = usize::try_from(len).map_err(|_| "a string in the rollup is too long")?;
        if len > self.bytes.len() {
            return Err("the rollup ends inside a string".into());
        }
        let (s, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        String::from_utf8(s.to_vec()).map_err(|_| "a string in the rollup is not UTF-8".into())
    }

    /// A length-prefixed string.
    pub fn str(&mut self) -> Result<String, String> {
        let len = self.u64()?;
        self.take(len)
    }

    /// An optional string.
    pub fn opt_str(&mut self) -> Result<Option<String>, String> {
        match self.u64()? {
            0 => Ok(None),
            n => self.take(n - 1).map(Some),
        }
    }

    /// Whether everything was read.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sizes() {
        let mut w = Writer::default();
        w.u64(0);
        w.u64(127);
        w.u64(128);
        w.u64(u64::MAX);
        w.i64(-1);
        w.i64(i64::MIN);
        w.i64(1_764_000_000_000);
        w.str("timeout");
        w.opt_str(None);
        w.opt_str(Some(""));
        let bytes = w.finish();
        // 1 + 1 + 2 + 10 + 1 + 10 + 6 + 8 + 1 + 1
        assert_eq!(bytes.len(), 41);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u64().unwrap(), 0);
        assert_eq!(r.u64().unwrap(), 127);
        assert_eq!(r.u64().unwrap(), 128);
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert_eq!(r.i64().unwrap(), -1);
        assert_eq!(r.i64().unwrap(), i64::MIN);
        assert_eq!(r.i64().unwrap(), 1_764_000_000_000);
        assert_eq!(r.str().unwrap(), "timeout");
        assert_eq!(r.opt_str().unwrap(), None);
        assert_eq!(r.opt_str().unwrap(), Some(String::new()));
        assert!(r.is_empty());
    }

    #[test]
    fn truncated_input_is_an_error() {
        let mut w = Writer::default();
        w.u64(300);
        w.str("abc");
        let bytes = w.finish();
        assert!(Reader::new(&bytes[..1]).u64().is_err());
        let mut r = Reader::new(&bytes[..4]);
        r.u64().unwrap();
        assert!(r.str().unwrap_err().contains("ends inside a string"));
    }
}
