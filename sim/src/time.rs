//! UTC calendar arithmetic without a date crate: the sim only formats Salesforce
//! timestamps and parses SOQL date/dateTime literals.

pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn push_num(out: &mut Vec<u8>, v: i64, width: usize) {
    let s = v.unsigned_abs().to_string();
    if v < 0 {
        out.push(b'-');
    }
    for _ in s.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(s.as_bytes());
}

/// `YYYY-MM-DD`
pub fn write_date(out: &mut Vec<u8>, days: i64) {
    let (y, m, d) = civil_from_days(days);
    push_num(out, y, 4);
    out.push(b'-');
    push_num(out, m as i64, 2);
    out.push(b'-');
    push_num(out, d as i64, 2);
}

/// Salesforce's REST dateTime shape: `2024-01-01T00:00:00.000+0000`.
pub fn write_datetime(out: &mut Vec<u8>, ms: i64) {
    let days = ms.div_euclid(DAY_MS);
    let rem = ms.rem_euclid(DAY_MS);
    write_date(out, days);
    out.push(b'T');
    push_num(out, rem / 3_600_000, 2);
    out.push(b':');
    push_num(out, rem / 60_000 % 60, 2);
    out.push(b':');
    push_num(out, rem / 1000 % 60, 2);
    out.push(b'.');
    push_num(out, rem % 1000, 3);
    out.extend_from_slice(b"+0000");
}

pub fn format_datetime(ms: i64) -> String {
    let mut v = Vec::with_capacity(28);
    write_datetime(&mut v, ms);
    String::from_utf8(v).unwrap_or_default()
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<i64> {
    let s = b.get(at..at + n)?;
    if !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |acc, c| acc * 10 + (c - b'0') as i64))
}

/// Strict `YYYY-MM-DD` → days since epoch (rejects 2024-02-30 etc.).
pub fn parse_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m as u32, d as u32);
    (civil_from_days(days) == (y, m as u32, d as u32)).then_some(days)
}

/// SOQL dateTime literal → ms since epoch. Accepts `YYYY-MM-DDThh:mm:ss[.fff](Z|±hh:mm|±hhmm)`.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let days = parse_date(s.get(..10)?)?;
    if b.get(10) != Some(&b'T') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    let (h, mi, se) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    if h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return None;
        }
        // Only millisecond precision matters; pad/truncate to 3 digits.
        let mut f = [b'0'; 3];
        for (k, c) in b[start..i].iter().take(3).enumerate() {
            f[k] = *c;
        }
        frac_ms = digits(&f, 0, 3)?;
    }
    let offset_min = match b.get(i) {
        Some(b'Z') | Some(b'z') if i + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, i + 1, 2)?;
            let j = if b.get(i + 3) == Some(&b':') {
                i + 4
            } else {
                i + 3
            };
            let om = digits(b, j, 2)?;
            if j + 2 != b.len() || oh > 23 || om > 59 {
                return None;
            }
            let m = oh * 60 + om;
            if sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    Some(days * DAY_MS + (h * 3600 + mi * 60 + se) * 1000 + frac_ms - offset_min * 60_000)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_dates() {
        for z in [-1000i64, 0, 19_723, 20_000, 60_000] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(parse_date("2024-01-01"), Some(19_723));
        assert_eq!(parse_date("2024-02-30"), None);
        assert_eq!(
            format_datetime(1_704_067_200_000),
            "2024-01-01T00:00:00.000+0000"
        );
    }

    #[test]
    fn datetime_literals() {
        let base = 1_704_067_200_000;
        assert_eq!(parse_datetime("2024-01-01T00:00:00Z"), Some(base));
        assert_eq!(parse_datetime("2024-01-01T00:00:00.000+0000"), Some(base));
        assert_eq!(parse_datetime("2024-01-01T01:00:00+01:00"), Some(base));
        assert_eq!(parse_datetime("2024-01-01T00:00:00.5Z"), Some(base + 500));
        assert_eq!(parse_datetime("2024-01-01T00:00:00"), None);
        assert_eq!(parse_datetime("2024-01-01T24:00:00Z"), None);
    }
}
