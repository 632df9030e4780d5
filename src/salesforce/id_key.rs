//! Salesforce Ids as points of a key space, for splitting an export into Id ranges
//! (PK-chunking style). An Id's first 15 characters are base62 digits whose ASCII order
//! (`0-9 < A-Z < a-z`) is the order `ORDER BY Id` uses; two Ids that share a prefix differ
//! in a tail read here as a number, so a range between them can be cut into parts of any width.

/// The 15-character (case-sensitive) form that orders like the 18-character one.
const ID_LEN: usize = 15;
/// Tail digits kept as a number: 62^12 < 2^72 fits a u128 with room to spare.
const MAX_TAIL: usize = 12;

fn digit(b: u8) -> Option<u128> {
    Some(match b {
        b'0'..=b'9' => b - b'0',
        b'A'..=b'Z' => b - b'A' + 10,
        b'a'..=b'z' => b - b'a' + 36,
        _ => return None,
    } as u128)
}

fn char_of(d: u128) -> u8 {
    let d = d as u8;
    match d {
        0..=9 => b'0' + d,
        10..=35 => b'A' + d - 10,
        _ => b'a' + d - 36,
    }
}

/// The key space between two Ids: their shared prefix and the numeric span of the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpace {
    prefix: String,
    width: usize,
}

impl KeySpace {
    /// The space spanned by `lo` and `hi` (any order of arrival; `lo <= hi` expected). `None`
    /// when either is not Id-shaped, so the caller falls back to one serial read.
    pub fn between(lo: &str, hi: &str) -> Option<(KeySpace, u128, u128)> {
        let (lo, hi) = (lo.get(..ID_LEN)?, hi.get(..ID_LEN)?);
        if !lo
            .bytes()
            .chain(hi.bytes())
            .all(|b| b.is_ascii_alphanumeric())
        {
            return None;
        }
        let common = lo
            .bytes()
            .zip(hi.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let start = common.clamp(ID_LEN - MAX_TAIL, ID_LEN - 1);
        let space = KeySpace {
            prefix: lo[..start].to_string(),
            width: ID_LEN - start,
        };
        let (a, b) = (space.value(lo)?, space.value(hi)?);
        // Differing before the tail (impossible with a 12-digit tail and a 3-char key prefix
        // unless the Ids are of different objects): no split.
        if !hi.starts_with(&space.prefix) || a > b {
            return None;
        }
        Some((space, a, b))
    }

    /// The point of `id` in this space (`None` when it lies outside the shared prefix).
    pub fn point(&self, id: &str) -> Option<u128> {
        if !id.starts_with(&self.prefix) {
            return None;
        }
        self.value(id)
    }

    fn value(&self, id: &str) -> Option<u128> {
        let tail = id.get(self.prefix.len()..ID_LEN)?;
        tail.bytes()
            .try_fold(0u128, |acc, b| Some(acc * 62 + digit(b)?))
    }

    /// The 15-character Id at point `v` of this space.
    pub fn id_at(&self, v: u128) -> String {
        let mut tail = vec![b'0'; self.width];
        let mut v = v;
        for slot in tail.iter_mut().rev() {
            *slot = char_of(v % 62);
            v /= 62;
        }
        let mut s = self.prefix.clone();
        s.push_str(std::str::from_utf8(&tail).unwrap_or(""));
        s
    }

    /// Largest point of the space (all tail digits `z`).
    pub fn max(&self) -> u128 {
        62u128.pow(self.width as u32) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_order() {
        let (s, a, b) =
            KeySpace::between("0035g00000000A0AAA", "0035g0000000zzzAAA").expect("space");
        assert!(a < b);
        assert_eq!(s.id_at(a), "0035g00000000A0");
        assert_eq!(s.id_at(b), "0035g0000000zzz");
        let mid = s.id_at((a + b) / 2);
        assert!(
            mid.as_str() > "0035g00000000A0" && mid.as_str() < "0035g0000000zzz",
            "{mid}"
        );
        assert!(s.max() >= b);
        assert!(KeySpace::between("003", "004").is_none());
        assert!(KeySpace::between("0035g0000-000A0AAA", "0035g00000000A0AAA").is_none());
        // Equal Ids: a one-point space.
        let (_, a, b) = KeySpace::between("0035g00000000A0", "0035g00000000A0").expect("space");
        assert_eq!(a, b);
    }

    #[test]
    fn digit_order_is_ascii_order() {
        let all: Vec<u8> = (0..62).map(char_of).collect();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert!((0..62).all(|d| digit(char_of(d)) == Some(d)));
    }
}
