//! The ChangeEventHeader's `changedFields` / `nulledFields` / `diffFields`: each entry is a
//! bitmap, `0x` + big-endian hex where bit i is the schema's top-level field i, or
//! `N-0x…` where bit i is field i of the compound (nested record) field at position N.

/// Positions of the set bits of a `0x…` hex string (None when it is not one).
pub fn bits(hex: &str) -> Option<Vec<usize>> {
    let digits = hex.strip_prefix("0x").or_else(|| hex.strip_prefix("0X"))?;
    let mut out = Vec::new();
    for (k, c) in digits.bytes().rev().enumerate() {
        let nibble = (c as char).to_digit(16)? as usize;
        for b in 0..4 {
            if nibble & (1 << b) != 0 {
                out.push(k * 4 + b);
            }
        }
    }
    Some(out)
}

/// One decoded entry: a top-level field, or a component of a compound field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bit {
    Top(usize),
    Nested(usize, usize),
}

/// Decodes one list entry (unknown forms decode to nothing: a plain field name is kept by the
/// caller as is).
pub fn entry(s: &str) -> Vec<Bit> {
    if let Some((parent, map)) = s.split_once('-') {
        let Ok(p) = parent.trim().parse::<usize>() else {
            return Vec::new();
        };
        return bits(map.trim())
            .unwrap_or_default()
            .into_iter()
            .map(|i| Bit::Nested(p, i))
            .collect();
    }
    bits(s.trim())
        .unwrap_or_default()
        .into_iter()
        .map(Bit::Top)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_endian_bits() {
        assert_eq!(bits("0x03"), Some(vec![0, 1]));
        assert_eq!(bits("0x0208"), Some(vec![3, 9]));
        assert_eq!(bits("0x"), Some(vec![]));
        assert_eq!(bits("zz"), None);
        assert_eq!(entry("3-0x05"), vec![Bit::Nested(3, 0), Bit::Nested(3, 2)]);
        assert_eq!(entry("0x10"), vec![Bit::Top(4)]);
    }
}
