//! Parsing partition keys with a strftime format the way Python's `strptime` does.
//!
//! Dagster parses keys, `start` and `end` with Python's `datetime.strptime`, whose rules differ
//! from chrono's parser in ways users meet: `%Y` is exactly four digits (so `%Y%m%d%H` reads
//! `2024010101`), numbers may drop their leading zero, and fields a format leaves out default to
//! the first month, the first day and midnight (`%Y-%m` reads `2023-01`). This module
//! implements those rules for the specifiers partition formats use, with backtracking as
//! Python's regular expression does.

use chrono::{FixedOffset, NaiveDate, NaiveDateTime};

/// What a key parsed to: a naive local date-time, and the UTC offset if the format had `%z`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The wall-clock date-time.
    pub local: NaiveDateTime,
    /// The offset `%z` gave, if any.
    pub offset: Option<FixedOffset>,
}

#[derive(Default, Clone, Copy)]
struct Fields {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    minute: Option<u32>,
    second: Option<u32>,
    offset: Option<i32>,
}

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Parses `text` with `fmt`; `None` if it does not match or names an impossible date.
pub fn parse(text: &str, fmt: &str) -> Option<Parsed> {
    let fields = matches(text.as_bytes(), fmt.as_bytes(), Fields::default())?;
    let date = NaiveDate::from_ymd_opt(
        fields.year.unwrap_or(1900),
        fields.month.unwrap_or(1),
        fields.day.unwrap_or(1),
    )?;
    let local = date.and_hms_opt(
        fields.hour.unwrap_or(0),
        fields.minute.unwrap_or(0),
        fields.second.unwrap_or(0),
    )?;
    let offset = match fields.offset {
        Some(seconds) => Some(FixedOffset::east_opt(seconds)?),
        None => None,
    };
    Some(Parsed { local, offset })
}

/// Whether the specifiers of `fmt` are all ones [`parse`] understands.
pub fn is_supported(fmt: &str) -> bool {
    let bytes = fmt.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            match bytes.get(i + 1) {
                Some(
                    b'Y' | b'y' | b'm' | b'd' | b'H' | b'M' | b'S' | b'z' | b'b' | b'B' | b'%',
                ) => {
                    i += 2;
                }
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

fn matches(text: &[u8], fmt: &[u8], fields: Fields) -> Option<Fields> {
    let Some((&first, rest_fmt)) = fmt.split_first() else {
        return text.is_empty().then_some(fields);
    };
    if first != b'%' {
        return match text.split_first() {
            Some((&c, rest)) if c == first => matches(rest, rest_fmt, fields),
            _ => None,
        };
    }
    let (&spec, rest_fmt) = rest_fmt.split_first()?;
    let number =
        |min_digits: usize, max_digits: usize, low: u32, high: u32, set: fn(&mut Fields, u32)| {
            // Longest first, as Python's alternations prefer the two-digit forms.
            (min_digits..=max_digits.min(text.len()))
                .rev()
                .find_map(|n| {
                    let digits = &text[..n];
                    if !digits.iter().all(u8::is_ascii_digit) {
                        return None;
                    }
                    let value: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
                    if value < low || value > high {
                        return None;
                    }
                    let mut next = fields;
                    set(&mut next, value);
                    matches(&text[n..], rest_fmt, next)
                })
        };
    match spec {
        b'Y' => number(4, 4, 0, 9999, |f, v| f.year = Some(v as i32)),
        b'y' => number(2, 2, 0, 99, |f, v| {
            f.year = Some(if v < 69 {
                2000 + v as i32
            } else {
                1900 + v as i32
            })
        }),
        b'm' => number(1, 2, 1, 12, |f, v| f.month = Some(v)),
        b'd' => number(1, 2, 1, 31, |f, v| f.day = Some(v)),
        b'H' => number(1, 2, 0, 23, |f, v| f.hour = Some(v)),
        b'M' => number(1, 2, 0, 59, |f, v| f.minute = Some(v)),
        b'S' => number(1, 2, 0, 61, |f, v| f.second = Some(v.min(59))),
        b'b' | b'B' => MONTHS.iter().enumerate().find_map(|(i, name)| {
            let lower: Vec<u8> = text.iter().map(u8::to_ascii_lowercase).collect();
            let candidates: &[usize] = if spec == b'b' { &[3] } else { &[name.len()] };
            candidates.iter().find_map(|&n| {
                (lower.len() >= n && lower[..n] == name.as_bytes()[..n]).then(|| {
                    let mut next = fields;
                    next.month = Some(i as u32 + 1);
                    matches(&text[n..], rest_fmt, next)
                })?
            })
        }),
        b'z' => parse_offset(text).and_then(|(seconds, used)| {
            let mut next = fields;
            next.offset = Some(seconds);
            matches(&text[used..], rest_fmt, next)
        }),
        b'%' => match text.split_first() {
            Some((b'%', rest)) => matches(rest, rest_fmt, fields),
            _ => None,
        },
        _ => None,
    }
}

/// `Z`, `+HHMM`, `+HH:MM` (Python's `%z`).
fn parse_offset(text: &[u8]) -> Option<(i32, usize)> {
    if text.first() == Some(&b'Z') {
        return Some((0, 1));
    }
    let sign = match text.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digit = |i: usize| -> Option<i32> {
        let c = *text.get(i)?;
        c.is_ascii_digit().then(|| i32::from(c - b'0'))
    };
    let hours = digit(1)? * 10 + digit(2)?;
    let (minutes, used) = if text.get(3) == Some(&b':') {
        (digit(4)? * 10 + digit(5)?, 6)
    } else {
        (digit(3)? * 10 + digit(4)?, 5)
    };
    Some((sign * (hours * 3600 + minutes * 60), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str, fmt: &str) -> String {
        parse(text, fmt).unwrap().local.to_string()
    }

    #[test]
    fn reads_python_style() {
        assert_eq!(local("2024010101", "%Y%m%d%H"), "2024-01-01 01:00:00");
        assert_eq!(local("2023-01", "%Y-%m"), "2023-01-01 00:00:00");
        assert_eq!(local("2024-3-5", "%Y-%m-%d"), "2024-03-05 00:00:00");
        assert_eq!(local("05.03.2024", "%d.%m.%Y"), "2024-03-05 00:00:00");
        assert_eq!(
            local("2024-03-10-01:00", "%Y-%m-%d-%H:%M"),
            "2024-03-10 01:00:00"
        );
        let with_offset = parse("2024-11-03-01:00-0500", "%Y-%m-%d-%H:%M%z").unwrap();
        assert_eq!(with_offset.offset, FixedOffset::west_opt(5 * 3600));
    }

    #[test]
    fn rejects_mismatches() {
        assert!(parse("2024-13-01", "%Y-%m-%d").is_none());
        assert!(parse("2024-02-30", "%Y-%m-%d").is_none());
        assert!(parse("2024-01-01x", "%Y-%m-%d").is_none());
        assert!(parse("not-a-date", "%Y-%m-%d").is_none());
    }
}
