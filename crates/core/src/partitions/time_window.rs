//! Time-window partitions: the ticks of a schedule in a time zone, and the windows between them.
//!
//! Keys, windows and DST behaviour follow Dagster's `TimeWindowPartitionsDefinition` exactly:
//!
//! - Hourly schedules (numeric minutes, every other field `*`) tick in absolute time, once per
//!   hour at the zone's local minute: a spring-forward day has 23 hourly windows, a fall-back day
//!   25, and the repeated hour's second key gets the UTC offset appended (`…-01:00-0500`) unless
//!   `fmt` already has `%z`.
//! - Daily, weekly and monthly schedules tick once per local day (week, month) at the local time
//!   of day. A local time that does not exist (spring forward) moves to the end of the gap
//!   (02:30 → 03:00); a local time that happens twice takes the later one. Dagster applies both
//!   rules only to the hours 1–3, where every zone's transitions happen; elsewhere the earlier
//!   offset is used.
//! - Any other cron schedule is matched against local wall-clock times: a nonexistent time is
//!   skipped when the schedule fires every hour and moved to the end of the gap otherwise; an
//!   ambiguous time gives both instants when it fires every hour and the later one otherwise.
//!
//! Instants are whole seconds since the Unix epoch (`i64`); ticks are always on a minute.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;

use crate::cron::CronSchedule;

/// A half-open time window `[start, end)` as instants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeWindow {
    /// Inclusive start, seconds since the epoch.
    pub start: i64,
    /// Exclusive end, seconds since the epoch.
    pub end: i64,
}

/// How a schedule's ticks are found: the shapes Dagster special-cases, and the general one.
#[derive(Clone, Debug, PartialEq)]
enum Cadence {
    /// Every hour at fixed local minutes, stepped in absolute time. `residues` are the tick
    /// offsets within an hour of absolute time, in seconds, ascending.
    Hourly { residues: Vec<i64> },
    /// One tick on each matching local date at a fixed time of day.
    Dated { dates: DateRule, time: NaiveTime },
    /// Wall-clock cron matching, for every other schedule.
    General,
}

/// Which local dates a [`Cadence::Dated`] schedule ticks on.
#[derive(Clone, Copy, Debug, PartialEq)]
enum DateRule {
    /// Every day whose weekday (0 = Sunday) is in the bit set.
    Days { weekdays: u8 },
    /// One day of every month (at most the 28th).
    Monthly { day: u32 },
}

/// A schedule ticking in a time zone.
#[derive(Clone, Debug, PartialEq)]
pub struct ZonedSchedule {
    cron: CronSchedule,
    tz: Tz,
    cadence: Cadence,
}

impl ZonedSchedule {
    /// Classifies `cron` the way Dagster's `cron_string_iterator` does.
    pub fn new(cron: CronSchedule, tz: Tz, reference_instant: i64) -> Self {
        let minutes = cron.minutes().values();
        let hour = cron.hours().single();
        let day = cron.days_of_month().single();
        let weekdays = cron.days_of_week().values();
        let months_any = cron.months().is_any();
        let dom_any = cron.days_of_month().is_any();
        let dow_any = cron.days_of_week().is_any();
        let single_minute = cron.minutes().single();
        let time = |h: u32, m: u32| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let cadence = match (single_minute, hour, day) {
            (Some(m), Some(h), Some(d)) if months_any && dow_any && d <= 28 => Cadence::Dated {
                dates: DateRule::Monthly { day: d },
                time: time(h, m),
            },
            (Some(m), Some(h), None) if dom_any && months_any && !dow_any => Cadence::Dated {
                dates: DateRule::Days {
                    weekdays: weekdays
                        .unwrap_or_default()
                        .iter()
                        .fold(0u8, |bits, d| bits | 1 << d),
                },
                time: time(h, m),
            },
            (Some(m), Some(h), None) if dom_any && months_any && dow_any => Cadence::Dated {
                dates: DateRule::Days { weekdays: 0x7f },
                time: time(h, m),
            },
            _ => match minutes {
                Some(minutes) if cron.hours().is_any() && dom_any && months_any && dow_any => {
                    // Dagster reads the minute in the zone only when the zone's offset is not
                    // a whole number of hours (India, Nepal); otherwise in UTC, which agrees.
                    let offset_minutes = offset_seconds(&tz, reference_instant).div_euclid(60);
                    let shift = offset_minutes.rem_euclid(60);
                    let mut residues: Vec<i64> = minutes
                        .iter()
                        .map(|&m| (i64::from(m) - shift).rem_euclid(60) * 60)
                        .collect();
                    residues.sort_unstable();
                    Cadence::Hourly { residues }
                }
                _ => Cadence::General,
            },
        };
        Self { cron, tz, cadence }
    }

    /// The cron schedule.
    pub fn cron(&self) -> &CronSchedule {
        &self.cron
    }

    /// The time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether keys of the repeated fall-back hour need the UTC offset to stay unique.
    pub fn repeats_every_hour(&self) -> bool {
        self.cron.repeats_every_hour()
    }

    /// The first tick strictly after `t`.
    pub fn next_tick(&self, t: i64) -> i64 {
        match &self.cadence {
            Cadence::Hourly { residues } => {
                let hour = t.div_euclid(3600) * 3600;
                let within = t - hour;
                match residues.iter().find(|&&r| r > within) {
                    Some(r) => hour + r,
                    None => hour + 3600 + residues[0],
                }
            }
            Cadence::Dated { dates, time } => {
                let mut date = self.local(t).date() - Duration::days(1);
                loop {
                    if dates.matches(date) {
                        let tick = self.resolve_dated(date.and_time(*time));
                        if tick > t {
                            return tick;
                        }
                    }
                    date = date.succ_opt().expect("date in range");
                }
            }
            Cadence::General => self.general_next(t),
        }
    }

    /// The last tick strictly before `t`.
    pub fn prev_tick(&self, t: i64) -> i64 {
        match &self.cadence {
            Cadence::Hourly { residues } => {
                let hour = t.div_euclid(3600) * 3600;
                let within = t - hour;
                match residues.iter().rev().find(|&&r| r < within) {
                    Some(r) => hour + r,
                    None => hour - 3600 + residues[residues.len() - 1],
                }
            }
            Cadence::Dated { dates, time } => {
                let mut date = self.local(t).date() + Duration::days(1);
                loop {
                    if dates.matches(date) {
                        let tick = self.resolve_dated(date.and_time(*time));
                        if tick < t {
                            return tick;
                        }
                    }
                    date = date.pred_opt().expect("date in range");
                }
            }
            Cadence::General => self.general_prev(t),
        }
    }

    /// `t` if it is a tick, else the next tick.
    pub fn tick_at_or_after(&self, t: i64) -> i64 {
        self.next_tick(t - 1)
    }

    /// `t` if it is a tick, else the previous tick.
    pub fn tick_at_or_before(&self, t: i64) -> i64 {
        self.prev_tick(t + 1)
    }

    /// Whether `t` is a tick.
    pub fn is_tick(&self, t: i64) -> bool {
        self.tick_at_or_after(t) == t
    }

    /// The tick `n` ticks after the tick `tick` (before, when `n` is negative).
    pub fn advance(&self, tick: i64, n: i64) -> i64 {
        match &self.cadence {
            Cadence::Hourly { residues } => {
                let per_hour = residues.len() as i64;
                let index = self.hourly_index(residues, tick) + n;
                let hour = index.div_euclid(per_hour);
                hour * 3600 + residues[index.rem_euclid(per_hour) as usize]
            }
            Cadence::Dated { dates, time } => {
                let index = dates.index(self.local(tick).date()) + n;
                self.resolve_dated(dates.date(index).and_time(*time))
            }
            Cadence::General => {
                let mut t = tick;
                for _ in 0..n.unsigned_abs() {
                    t = if n > 0 {
                        self.next_tick(t)
                    } else {
                        self.prev_tick(t)
                    };
                }
                t
            }
        }
    }

    /// How many ticks `to` is after `from` (both ticks; negative when earlier).
    pub fn ticks_between(&self, from: i64, to: i64) -> i64 {
        match &self.cadence {
            Cadence::Hourly { residues } => {
                self.hourly_index(residues, to) - self.hourly_index(residues, from)
            }
            Cadence::Dated { dates, .. } => {
                dates.index(self.local(to).date()) - dates.index(self.local(from).date())
            }
            Cadence::General => {
                let (mut t, end, sign) = if from <= to {
                    (from, to, 1)
                } else {
                    (to, from, -1)
                };
                let mut count = 0;
                while t < end {
                    t = self.next_tick(t);
                    count += 1;
                }
                sign * count
            }
        }
    }

    fn hourly_index(&self, residues: &[i64], tick: i64) -> i64 {
        let hour = tick.div_euclid(3600);
        let within = tick - hour * 3600;
        let position = residues.partition_point(|&r| r < within) as i64;
        hour * residues.len() as i64 + position
    }

    /// The local wall-clock time of an instant.
    pub fn local(&self, t: i64) -> NaiveDateTime {
        instant(t).with_timezone(&self.tz).naive_local()
    }

    /// The instant as a date-time in the zone.
    pub fn zoned(&self, t: i64) -> DateTime<Tz> {
        instant(t).with_timezone(&self.tz)
    }

    /// Dagster's resolution of a daily/weekly/monthly tick's wall-clock time.
    fn resolve_dated(&self, naive: NaiveDateTime) -> i64 {
        let dst_hour = (1..=3).contains(&naive.hour());
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.timestamp(),
            LocalResult::Ambiguous(earlier, later) => {
                if dst_hour { later } else { earlier }.timestamp()
            }
            LocalResult::None => {
                if dst_hour {
                    self.after_gap(naive)
                } else {
                    self.with_offset_before(naive)
                }
            }
        }
    }

    /// Dagster's "post transition" time of a nonexistent wall-clock time: the start of its hour
    /// plus the length of the gap.
    fn after_gap(&self, naive: NaiveDateTime) -> i64 {
        let gap = self.offset_after(naive) - self.offset_before(naive);
        let hour_start = naive.date().and_hms_opt(naive.hour(), 0, 0).expect("valid");
        let moved = hour_start + Duration::seconds(gap);
        match self.tz.from_local_datetime(&moved) {
            LocalResult::Single(t) => t.timestamp(),
            LocalResult::Ambiguous(earlier, _) => earlier.timestamp(),
            LocalResult::None => self.with_offset_before(moved),
        }
    }

    /// A nonexistent wall-clock time read with the offset in force before the gap (Python's
    /// `fold=0`).
    fn with_offset_before(&self, naive: NaiveDateTime) -> i64 {
        naive.and_utc().timestamp() - self.offset_before(naive)
    }

    fn offset_before(&self, naive: NaiveDateTime) -> i64 {
        let probe = naive.and_utc().timestamp() - 3 * 3600;
        offset_seconds(&self.tz, probe - offset_seconds(&self.tz, probe))
    }

    fn offset_after(&self, naive: NaiveDateTime) -> i64 {
        let probe = naive.and_utc().timestamp() + 3 * 3600;
        offset_seconds(&self.tz, probe - offset_seconds(&self.tz, probe))
    }

    /// The instants a wall-clock cron match stands for (none, one, or two).
    fn general_instants(&self, naive: NaiveDateTime, out: &mut Vec<i64>) {
        let every_hour = self.cron.repeats_every_hour();
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => out.push(t.timestamp()),
            LocalResult::Ambiguous(earlier, later) => {
                if every_hour {
                    out.push(earlier.timestamp());
                }
                out.push(later.timestamp());
            }
            LocalResult::None => {
                if every_hour {
                    return;
                }
                out.push(if (1..=3).contains(&naive.hour()) {
                    self.after_gap(naive)
                } else {
                    self.with_offset_before(naive)
                });
            }
        }
    }

    fn general_next(&self, t: i64) -> i64 {
        let mut naive = self.local(t) - Duration::hours(1);
        let mut best: Option<i64> = None;
        let mut found_at: Option<NaiveDateTime> = None;
        let mut instants = Vec::with_capacity(2);
        loop {
            naive = self
                .cron
                .next_after(naive)
                .expect("a valid cron schedule always ticks again");
            if let Some(first) = found_at
                && naive > first + Duration::hours(3)
            {
                return best.expect("found");
            }
            instants.clear();
            self.general_instants(naive, &mut instants);
            for &candidate in &instants {
                if candidate > t && best.is_none_or(|b| candidate < b) {
                    best = Some(candidate);
                    found_at.get_or_insert(naive);
                }
            }
        }
    }

    fn general_prev(&self, t: i64) -> i64 {
        let mut naive = self.local(t) + Duration::hours(1) + Duration::minutes(1);
        let mut best: Option<i64> = None;
        let mut found_at: Option<NaiveDateTime> = None;
        let mut instants = Vec::with_capacity(2);
        loop {
            naive = self
                .cron
                .prev_before(naive)
                .expect("a valid cron schedule always ticked before");
            if let Some(first) = found_at
                && naive < first - Duration::hours(3)
            {
                return best.expect("found");
            }
            instants.clear();
            self.general_instants(naive, &mut instants);
            for &candidate in &instants {
                if candidate < t && best.is_none_or(|b| candidate > b) {
                    best = Some(candidate);
                    found_at.get_or_insert(naive);
                }
            }
        }
    }
}

impl DateRule {
    fn matches(&self, date: NaiveDate) -> bool {
        match *self {
            DateRule::Days { weekdays } => {
                weekdays & (1 << date.weekday().num_days_from_sunday()) != 0
            }
            DateRule::Monthly { day } => date.day() == day,
        }
    }

    /// A number that grows by one from each matching date to the next.
    fn index(&self, date: NaiveDate) -> i64 {
        match *self {
            DateRule::Days { weekdays } => {
                // Days since 0001-01-07, a Sunday, so week boundaries fall on Sundays.
                let days = i64::from(date.num_days_from_ce()) - 7;
                let per_week = i64::from(weekdays.count_ones());
                let week = days.div_euclid(7);
                let within = days.rem_euclid(7) as u32;
                let before = (weekdays & ((1u16 << within) - 1) as u8).count_ones();
                week * per_week + i64::from(before)
            }
            DateRule::Monthly { .. } => i64::from(date.year()) * 12 + i64::from(date.month0()),
        }
    }

    /// The matching date with the given index.
    fn date(&self, index: i64) -> NaiveDate {
        match *self {
            DateRule::Days { weekdays } => {
                let per_week = i64::from(weekdays.count_ones());
                let week = index.div_euclid(per_week);
                let mut nth = index.rem_euclid(per_week);
                let mut weekday = 0;
                for day in 0..7 {
                    if weekdays & (1 << day) != 0 {
                        if nth == 0 {
                            weekday = day;
                            break;
                        }
                        nth -= 1;
                    }
                }
                let days = week * 7 + weekday + 7;
                NaiveDate::from_num_days_from_ce_opt(days as i32).expect("date in range")
            }
            DateRule::Monthly { day } => {
                let year = index.div_euclid(12) as i32;
                let month = index.rem_euclid(12) as u32 + 1;
                NaiveDate::from_ymd_opt(year, month, day).expect("day at most 28")
            }
        }
    }
}

/// The UTC offset of `tz` at an instant, in seconds.
pub fn offset_seconds(tz: &Tz, t: i64) -> i64 {
    i64::from(
        tz.offset_from_utc_datetime(&instant(t).naive_utc())
            .fix()
            .local_minus_utc(),
    )
}

/// An instant as a UTC date-time.
pub fn instant(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).expect("instant in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(cron: &str, tz: &str) -> ZonedSchedule {
        ZonedSchedule::new(CronSchedule::parse(cron).unwrap(), tz.parse().unwrap(), 0)
    }

    fn ts(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp()
    }

    #[test]
    fn hourly_steps_in_absolute_time_across_dst() {
        let s = schedule("0 * * * *", "America/New_York");
        // 2024-03-10 01:00 EST → 03:00 EDT is one hour later.
        let one = ts("2024-03-10T01:00:00-05:00");
        assert_eq!(s.next_tick(one), ts("2024-03-10T03:00:00-04:00"));
        assert_eq!(s.advance(one, 24), one + 24 * 3600);
        assert_eq!(s.ticks_between(one, one + 24 * 3600), 24);
    }

    #[test]
    fn hourly_in_half_hour_zone_ticks_on_local_minute() {
        let s = schedule("0 * * * *", "Asia/Kolkata");
        let t = s.next_tick(ts("2024-01-01T00:00:00+05:30"));
        assert_eq!(s.local(t).minute(), 0);
    }

    #[test]
    fn daily_moves_nonexistent_time_to_end_of_gap() {
        let s = schedule("30 2 * * *", "America/New_York");
        let before = ts("2024-03-09T02:30:00-05:00");
        assert_eq!(s.next_tick(before), ts("2024-03-10T03:00:00-04:00"));
        assert_eq!(s.advance(before, 2), ts("2024-03-11T02:30:00-04:00"));
    }

    #[test]
    fn daily_takes_later_of_repeated_time() {
        let s = schedule("30 1 * * *", "America/New_York");
        let before = ts("2024-11-02T01:30:00-04:00");
        assert_eq!(s.next_tick(before), ts("2024-11-03T01:30:00-05:00"));
    }

    #[test]
    fn dated_index_round_trips() {
        for rule in [
            DateRule::Days { weekdays: 0x7f },
            DateRule::Days {
                weekdays: 0b0011_1110,
            },
            DateRule::Days { weekdays: 1 << 3 },
            DateRule::Monthly { day: 15 },
        ] {
            let mut date = NaiveDate::from_ymd_opt(2023, 12, 1).unwrap();
            for _ in 0..400 {
                if rule.matches(date) {
                    assert_eq!(rule.date(rule.index(date)), date, "{rule:?}");
                }
                date = date.succ_opt().unwrap();
            }
        }
    }

    #[test]
    fn general_schedule_ticks_every_four_hours() {
        let s = schedule("0 */4 * * *", "Europe/Berlin");
        let t = ts("2024-03-31T00:00:00+01:00");
        assert_eq!(s.next_tick(t), ts("2024-03-31T04:00:00+02:00"));
        assert_eq!(s.prev_tick(s.next_tick(t)), t);
        assert_eq!(s.ticks_between(t, s.advance(t, 10)), 10);
    }
}
