//! The primitives of format 2's binary manifest: little-endian integers, IEEE 754 floats
//! as their bits, and length-prefixed texts, byte strings and lists.
//! Invariant: reading never panics and never allocates more than the bytes left could
//! describe (a list's count is checked against the remaining length before anything is
//! reserved), so a hostile length is an error, not an allocation.

use super::BundleError;

/// Appends values to a manifest being written (where bundles are signed).
#[cfg(feature = "text-rules")]
#[derive(Default)]
pub(super) struct Writer {
    pub out: Vec<u8>,
}

#[cfg(feature = "text-rules")]
impl Writer {
    pub fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub fn u32(&mut self, v: u32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    /// The float's exact bits: what was signed is what is read, NaN payloads included.
    pub fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }

    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// A count or a length. Manifests are far below 4 GiB (`MAX_BUNDLE`); a larger one is
    /// an error when it is signed, never a silent truncation.
    pub fn len(&mut self, n: usize) -> Result<(), BundleError> {
        let n = u32::try_from(n).map_err(|_| BundleError::Malformed("manifest part too large".into()))?;
        self.u32(n);
        Ok(())
    }

    pub fn bytes(&mut self, b: &[u8]) -> Result<(), BundleError> {
        self.len(b.len())?;
        self.out.extend_from_slice(b);
        Ok(())
    }

    pub fn str(&mut self, s: &str) -> Result<(), BundleError> {
        self.bytes(s.as_bytes())
    }

    pub fn f64s(&mut self, v: &[f64]) -> Result<(), BundleError> {
        self.len(v.len())?;
        v.iter().for_each(|x| self.f64(*x));
        Ok(())
    }

    pub fn strs(&mut self, v: &[String]) -> Result<(), BundleError> {
        self.len(v.len())?;
        v.iter().try_for_each(|s| self.str(s))
    }

    pub fn opt_str(&mut self, v: Option<&str>) -> Result<(), BundleError> {
        match v {
            Some(s) => {
                self.u8(1);
                self.str(s)
            }
            None => {
                self.u8(0);
                Ok(())
            }
        }
    }
}

/// Reads values back, in the order they were written.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn malformed(what: &str) -> BundleError {
    BundleError::Malformed(format!("binary manifest: {what}"))
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// Where the next value starts.
    pub fn at(&self) -> usize {
        self.at
    }

    /// The bytes read since `start` (an earlier `at`).
    pub fn since(&self, start: usize) -> &'a [u8] {
        self.bytes.get(start..self.at).unwrap_or_default()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], BundleError> {
        let end = self.at.checked_add(n).ok_or_else(|| malformed("length overflows"))?;
        let part = self.bytes.get(self.at..end).ok_or_else(|| malformed("truncated"))?;
        self.at = end;
        Ok(part)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BundleError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8, BundleError> {
        Ok(self.take(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32, BundleError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn u64(&mut self) -> Result<u64, BundleError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    pub fn i64(&mut self) -> Result<i64, BundleError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    pub fn f64(&mut self) -> Result<f64, BundleError> {
        Ok(f64::from_bits(self.u64()?))
    }

    pub fn bool(&mut self) -> Result<bool, BundleError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(malformed("a flag is neither 0 nor 1")),
        }
    }

    /// A list's count, refused if even `min_item` bytes per item would not fit in what is
    /// left: the caller may then reserve `count` items safely.
    pub fn count(&mut self, min_item: usize) -> Result<usize, BundleError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_item.max(1)) > self.bytes.len() - self.at {
            return Err(malformed("a count exceeds the bytes left"));
        }
        Ok(n)
    }

    /// A list: its count (see `count`), then each item as `item` reads it.
    pub fn list<T>(
        &mut self,
        min_item: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, BundleError>,
    ) -> Result<Vec<T>, BundleError> {
        let n = self.count(min_item)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Ok(out)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], BundleError> {
        let n = self.count(1)?;
        self.take(n)
    }

    pub fn str(&mut self) -> Result<&'a str, BundleError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| malformed("a text is not UTF-8"))
    }

    pub fn string(&mut self) -> Result<String, BundleError> {
        self.str().map(str::to_string)
    }

    pub fn f64s(&mut self) -> Result<Vec<f64>, BundleError> {
        self.list(8, Self::f64)
    }

    pub fn strings(&mut self) -> Result<Vec<String>, BundleError> {
        self.list(4, Self::string)
    }

    pub fn opt_string(&mut self) -> Result<Option<String>, BundleError> {
        match self.u8()? {
            0 => Ok(None),
            1 => self.string().map(Some),
            _ => Err(malformed("an optional text's tag is neither 0 nor 1")),
        }
    }

    /// The end: bytes after the last field are refused, so one manifest has one reading.
    pub fn finish(self) -> Result<(), BundleError> {
        if self.at == self.bytes.len() { Ok(()) } else { Err(malformed("trailing bytes")) }
    }
}

#[cfg(all(test, feature = "text-rules"))]
mod tests {
    use super::*;

    #[test]
    fn values_read_back_as_written_and_hostile_lengths_are_refused() {
        let mut w = Writer::default();
        w.u8(7);
        w.i64(-5);
        w.f64(f64::NAN);
        w.f64s(&[0.5, -0.0]).unwrap();
        w.strs(&["a".into(), "é".into()]).unwrap();
        w.opt_str(None).unwrap();
        w.opt_str(Some("x")).unwrap();
        w.bool(true);
        let mut r = Reader::new(&w.out);
        assert_eq!(r.u8().unwrap(), 7);
        assert_eq!(r.i64().unwrap(), -5);
        assert_eq!(r.f64().unwrap().to_bits(), f64::NAN.to_bits());
        let floats = r.f64s().unwrap();
        assert_eq!((floats[0], floats[1].to_bits()), (0.5, (-0.0f64).to_bits()));
        assert_eq!(r.strings().unwrap(), ["a", "é"]);
        assert_eq!(r.opt_string().unwrap(), None);
        assert_eq!(r.opt_string().unwrap().as_deref(), Some("x"));
        assert!(r.bool().unwrap());
        r.finish().unwrap();

        // A count of 4 billion floats with 8 bytes left is refused before any allocation.
        let mut huge = u32::MAX.to_le_bytes().to_vec();
        huge.extend_from_slice(&[0; 8]);
        assert!(Reader::new(&huge).f64s().is_err());
        assert!(Reader::new(&[2, 0, 0, 0, 0xff, 0xfe]).str().is_err(), "not UTF-8");
        assert!(Reader::new(&[5, 0, 0, 0, b'a']).str().is_err(), "truncated");
        assert!(Reader::new(&[2]).bool().is_err());
        let mut extra = Reader::new(&[1, 9]);
        extra.u8().unwrap();
        assert!(extra.finish().is_err(), "trailing bytes");
    }
}
