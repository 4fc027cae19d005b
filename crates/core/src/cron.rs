//! Five-field cron schedules (`minute hour day-of-month month day-of-week`).
//!
//! Strata reads cron strings in three places — `cron` partitions, automation conditions and
//! freshness deadlines — and must tick exactly where Dagster ticks, so this module parses the
//! same syntax Dagster accepts (numbers, ranges, steps, lists, month and weekday names, `7` as
//! Sunday) and matches days the way Vixie cron does: when both day fields are restricted, a day
//! matching either one matches. Time zones are not handled here: the schedule is matched against
//! naive local date-times, and `partitions::time_window` resolves those into instants.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// A parsed five-field cron schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronSchedule {
    text: String,
    minutes: Field,
    hours: Field,
    days_of_month: Field,
    months: Field,
    days_of_week: Field,
}

/// One field: either the plain wildcard `*` or an explicit set of values.
///
/// The distinction matters beyond matching: a plain `*` day field leaves day matching to the
/// other day field, and Dagster picks its DST rules by which fields are plain wildcards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Field {
    /// `*`: every value.
    Any,
    /// The values listed, ranged or stepped, as a bit set.
    Values(u64),
}

impl Field {
    fn matches(&self, value: u32) -> bool {
        match self {
            Field::Any => true,
            Field::Values(bits) => bits & (1 << value) != 0,
        }
    }

    /// The single value of a field that names exactly one, such as `30` or `5-5`.
    pub fn single(&self) -> Option<u32> {
        match self {
            Field::Values(bits) if bits.count_ones() == 1 => Some(bits.trailing_zeros()),
            _ => None,
        }
    }

    /// The values of an explicit field, ascending.
    pub fn values(&self) -> Option<Vec<u32>> {
        match self {
            Field::Any => None,
            Field::Values(bits) => Some((0..64).filter(|v| bits & (1 << v) != 0).collect()),
        }
    }

    /// Whether this is the plain wildcard.
    pub fn is_any(&self) -> bool {
        matches!(self, Field::Any)
    }
}

/// Why a cron string is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid cron schedule `{text}`: {reason}")]
pub struct CronError {
    /// The rejected text.
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

struct FieldRule {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    names_start: u32,
}

const RULES: [FieldRule; 5] = [
    FieldRule {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        names_start: 0,
    },
    FieldRule {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        names_start: 0,
    },
    FieldRule {
        name: "day of month",
        min: 1,
        max: 31,
        names: &[],
        names_start: 1,
    },
    FieldRule {
        name: "month",
        min: 1,
        max: 12,
        names: &MONTH_NAMES,
        names_start: 1,
    },
    FieldRule {
        name: "day of week",
        min: 0,
        max: 7,
        names: &DAY_NAMES,
        names_start: 0,
    },
];

impl CronSchedule {
    /// Parses a five-field cron string (`minute hour day-of-month month day-of-week`).
    pub fn parse(text: &str) -> Result<Self, CronError> {
        let error = |reason: String| CronError {
            text: text.to_string(),
            reason,
        };
        let parts: Vec<&str> = text.split_whitespace().collect();
        if parts.len() != 5 {
            return Err(error(format!(
                "expected 5 fields (minute hour day-of-month month day-of-week), found {}",
                parts.len()
            )));
        }
        let mut fields = Vec::with_capacity(5);
        for (part, rule) in parts.iter().zip(&RULES) {
            fields.push(parse_field(part, rule).map_err(error)?);
        }
        let [minutes, hours, days_of_month, months, mut days_of_week] =
            <[Field; 5]>::try_from(fields).expect("five fields");
        if let Field::Values(bits) = &mut days_of_week {
            // 7 is another name for Sunday.
            if *bits & (1 << 7) != 0 {
                *bits = (*bits & !(1 << 7)) | 1;
            }
        }
        if let (Some(days), Some(month_values)) = (days_of_month.values(), months.values())
            && month_values.iter().all(|&m| m == 2)
            && days.iter().all(|&d| d >= 30)
        {
            return Err(error("February has no 30th or 31st day".to_string()));
        }
        Ok(Self {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            minutes,
            hours,
            days_of_month,
            months,
            days_of_week,
        })
    }

    /// The schedule as written, with runs of whitespace collapsed.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The minute field.
    pub fn minutes(&self) -> &Field {
        &self.minutes
    }

    /// The hour field.
    pub fn hours(&self) -> &Field {
        &self.hours
    }

    /// The day-of-month field.
    pub fn days_of_month(&self) -> &Field {
        &self.days_of_month
    }

    /// The month field.
    pub fn months(&self) -> &Field {
        &self.months
    }

    /// The day-of-week field (0 = Sunday).
    pub fn days_of_week(&self) -> &Field {
        &self.days_of_week
    }

    /// Whether the schedule fires in every hour of a matching day (its hour field is `*`).
    pub fn repeats_every_hour(&self) -> bool {
        self.hours.is_any()
    }

    fn matches_date(&self, date: NaiveDate) -> bool {
        if !self.months.matches(date.month()) {
            return false;
        }
        let dom = self.days_of_month.matches(date.day());
        let dow = self
            .days_of_week
            .matches(date.weekday().num_days_from_sunday());
        match (self.days_of_month.is_any(), self.days_of_week.is_any()) {
            (false, false) => dom || dow,
            _ => dom && dow,
        }
    }

    /// Whether a naive date-time (seconds ignored) is a tick.
    pub fn matches(&self, time: NaiveDateTime) -> bool {
        self.matches_date(time.date())
            && self.hours.matches(time.hour())
            && self.minutes.matches(time.minute())
    }

    /// The first tick strictly after `after`, or `None` if there is none within 30 years.
    pub fn next_after(&self, after: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = truncate_to_minute(after) + Duration::minutes(1);
        let mut date = start.date();
        let limit = date + Duration::days(366 * 30);
        let mut first_day = true;
        while date <= limit {
            if self.matches_date(date) {
                let from = if first_day {
                    start.time()
                } else {
                    NaiveTime::MIN
                };
                if let Some(time) = self.first_time_at_or_after(from) {
                    return Some(date.and_time(time));
                }
            }
            first_day = false;
            date = date.succ_opt()?;
        }
        None
    }

    /// The last tick strictly before `before`, or `None` if there is none within 30 years.
    pub fn prev_before(&self, before: NaiveDateTime) -> Option<NaiveDateTime> {
        let truncated = truncate_to_minute(before);
        let end = if truncated == before {
            truncated - Duration::minutes(1)
        } else {
            truncated
        };
        let mut date = end.date();
        let limit = date - Duration::days(366 * 30);
        let mut first_day = true;
        while date >= limit {
            if self.matches_date(date) {
                let until = if first_day {
                    end.time()
                } else {
                    NaiveTime::from_hms_opt(23, 59, 0).expect("valid time")
                };
                if let Some(time) = self.last_time_at_or_before(until) {
                    return Some(date.and_time(time));
                }
            }
            first_day = false;
            date = date.pred_opt()?;
        }
        None
    }

    fn first_time_at_or_after(&self, from: NaiveTime) -> Option<NaiveTime> {
        (from.hour()..24)
            .filter(|&h| self.hours.matches(h))
            .find_map(|h| {
                let first_minute = if h == from.hour() { from.minute() } else { 0 };
                (first_minute..60)
                    .find(|&m| self.minutes.matches(m))
                    .map(|m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time"))
            })
    }

    fn last_time_at_or_before(&self, until: NaiveTime) -> Option<NaiveTime> {
        (0..=until.hour())
            .rev()
            .filter(|&h| self.hours.matches(h))
            .find_map(|h| {
                let last_minute = if h == until.hour() {
                    until.minute()
                } else {
                    59
                };
                (0..=last_minute)
                    .rev()
                    .find(|&m| self.minutes.matches(m))
                    .map(|m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time"))
            })
    }
}

impl std::fmt::Display for CronSchedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn truncate_to_minute(time: NaiveDateTime) -> NaiveDateTime {
    time.date()
        .and_hms_opt(time.hour(), time.minute(), 0)
        .expect("valid time")
}

fn parse_field(text: &str, rule: &FieldRule) -> Result<Field, String> {
    if text == "*" {
        return Ok(Field::Any);
    }
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step
                    .parse()
                    .map_err(|_| format!("the {} field has an invalid step `{step}`", rule.name))?;
                if step == 0 {
                    return Err(format!("the {} field has a step of 0", rule.name));
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = if range == "*" {
            (rule.min, rule.max)
        } else if let Some((low, high)) = range.split_once('-') {
            (parse_value(low, rule)?, parse_value(high, rule)?)
        } else {
            let value = parse_value(range, rule)?;
            // `5/15` means from 5 to the end, every 15.
            (value, if item.contains('/') { rule.max } else { value })
        };
        if low > high {
            return Err(format!(
                "the {} field has a backwards range `{range}`",
                rule.name
            ));
        }
        let mut value = low;
        while value <= high {
            bits |= 1 << value;
            value += step;
        }
    }
    Ok(Field::Values(bits))
}

fn parse_value(text: &str, rule: &FieldRule) -> Result<u32, String> {
    let lower = text.to_ascii_lowercase();
    if let Some(index) = rule.names.iter().position(|name| *name == lower) {
        return Ok(index as u32 + rule.names_start);
    }
    let value: u32 = text.parse().map_err(|_| {
        let names = if rule.names.is_empty() {
            String::new()
        } else {
            format!(" or a name ({})", rule.names.join(", "))
        };
        format!("`{text}` in the {} field is not a number{names}", rule.name)
    })?;
    if value < rule.min || value > rule.max {
        return Err(format!(
            "{value} is out of range for the {} field ({}-{})",
            rule.name, rule.min, rule.max
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn parses_common_forms() {
        for text in [
            "0 * * * *",
            "*/15 * * * *",
            "0 */4 * * *",
            "15 9 * * 1-5",
            "0 0 1 */3 *",
            "0 0 * * 6,0",
            "30 2 * jan-mar mon,fri",
            "0 0 * * 7",
        ] {
            CronSchedule::parse(text).unwrap();
        }
    }

    #[test]
    fn rejects_bad_schedules_with_reasons() {
        let cases = [
            ("0 * * *", "expected 5 fields"),
            (
                "60 * * * *",
                "60 is out of range for the minute field (0-59)",
            ),
            ("0 25 * * *", "out of range for the hour field"),
            ("0 0 0 * *", "out of range for the day of month field"),
            ("x * * * *", "`x` in the minute field is not a number"),
            ("0 0 * * funday", "or a name (sun, mon"),
            ("*/0 * * * *", "step of 0"),
            ("0 0 30 2 *", "February has no 30th"),
            ("0 5-1 * * *", "backwards range"),
        ];
        for (text, expected) in cases {
            let error = CronSchedule::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn sunday_is_zero_or_seven() {
        let seven = CronSchedule::parse("0 0 * * 7").unwrap();
        assert_eq!(
            seven.days_of_week(),
            CronSchedule::parse("0 0 * * 0").unwrap().days_of_week()
        );
    }

    #[test]
    fn iterates_forward_and_back() {
        let cron = CronSchedule::parse("0 */4 * * *").unwrap();
        assert_eq!(
            cron.next_after(at("2024-01-01 00:00")),
            Some(at("2024-01-01 04:00"))
        );
        assert_eq!(
            cron.next_after(at("2024-01-01 22:00")),
            Some(at("2024-01-02 00:00"))
        );
        assert_eq!(
            cron.prev_before(at("2024-01-01 04:00")),
            Some(at("2024-01-01 00:00"))
        );
        assert_eq!(
            cron.prev_before(at("2024-01-01 00:00")),
            Some(at("2023-12-31 20:00"))
        );
        let weekdays = CronSchedule::parse("15 9 * * 1-5").unwrap();
        // 2024-01-05 is a Friday.
        assert_eq!(
            weekdays.next_after(at("2024-01-05 09:15")),
            Some(at("2024-01-08 09:15"))
        );
    }

    #[test]
    fn restricted_day_fields_match_either() {
        // The 1st of the month or any Monday.
        let cron = CronSchedule::parse("0 0 1 * 1").unwrap();
        assert!(cron.matches(at("2024-01-01 00:00")));
        assert!(cron.matches(at("2024-01-08 00:00")));
        assert!(!cron.matches(at("2024-01-09 00:00")));
    }
}
