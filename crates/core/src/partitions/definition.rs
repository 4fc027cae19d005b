//! Partitions definitions, and the ordered keys they have at a given moment.
//!
//! A [`PartitionsDefinition`] is what a user declared; which partitions exist depends on `now`
//! (time windows appear as they end) and on the dynamic keys added so far, so every question
//! about keys goes through a [`Keyspace`]: the definition evaluated at one moment. A keyspace
//! answers key ↔ index ↔ window in O(1) or O(log n) for the usual grains and never lists keys
//! unless asked to.

use super::subset::PartitionSubset;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

use super::spec::{CronWindowSpec, PartitionsSpec, TimeWindowSpec};
use super::strptime;
use super::time_window::{TimeWindow, ZonedSchedule, offset_seconds};
use crate::cron::CronSchedule;

/// A checked partitions definition.
#[derive(Clone, Debug, PartialEq)]
pub enum PartitionsDefinition {
    /// Windows between the ticks of a schedule.
    TimeWindow(TimeWindowPartitions),
    /// A fixed, ordered list of keys.
    Static(StaticPartitions),
    /// A named set of keys added at run time.
    Dynamic(String),
    /// Two dimensions, ordered by name.
    Multi(MultiPartitions),
}

/// Why a partitions spec is invalid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PartitionsError(pub String);

fn invalid<T>(message: impl Into<String>) -> Result<T, PartitionsError> {
    Err(PartitionsError(message.into()))
}

/// The keys of dynamic partitions sets, by set name.
pub trait DynamicPartitions {
    /// The keys of the named set in the order they were added; `None` for an unknown set.
    fn keys(&self, name: &str) -> Option<&[String]>;
}

/// Dynamic partition keys held in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InMemoryDynamicPartitions {
    sets: BTreeMap<String, Vec<String>>,
}

impl InMemoryDynamicPartitions {
    /// Adds keys to a set (creating it), skipping keys it already has.
    pub fn add(&mut self, name: &str, keys: impl IntoIterator<Item = String>) {
        let set = self.sets.entry(name.to_string()).or_default();
        for key in keys {
            if !set.contains(&key) {
                set.push(key);
            }
        }
    }
}

impl DynamicPartitions for InMemoryDynamicPartitions {
    fn keys(&self, name: &str) -> Option<&[String]> {
        self.sets.get(name).map(Vec::as_slice)
    }
}

/// No dynamic partitions at all.
pub struct NoDynamicPartitions;

impl DynamicPartitions for NoDynamicPartitions {
    fn keys(&self, _name: &str) -> Option<&[String]> {
        None
    }
}

/// A time-window partitions definition.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeWindowPartitions {
    /// `daily`, `weekly`, … or `cron '…'`: how the user named the schedule.
    label: String,
    schedule: ZonedSchedule,
    fmt: String,
    /// `fmt` parsed once: formatting every key re-parsed it, a fifth of the time of a listing.
    fmt_items: Vec<chrono::format::Item<'static>>,
    start: i64,
    end: Option<i64>,
    end_offset: i64,
    exclusions: Vec<Exclusion>,
}

#[derive(Clone, Debug, PartialEq)]
enum Exclusion {
    Cron(ZonedSchedule),
    Instant(i64),
}

/// A static partitions definition.
#[derive(Clone, Debug, PartialEq)]
pub struct StaticPartitions {
    keys: Vec<String>,
    index: HashMap<String, u64>,
}

/// A two-dimensional partitions definition.
#[derive(Clone, Debug, PartialEq)]
pub struct MultiPartitions {
    dimensions: Vec<(String, PartitionsDefinition)>,
}

impl PartitionsDefinition {
    /// Checks a spec as Dagster checks the same definition.
    pub fn from_spec(spec: &PartitionsSpec) -> Result<Self, PartitionsError> {
        match spec {
            PartitionsSpec::Hourly(s) => TimeWindowPartitions::from_grain(Grain::Hourly, s),
            PartitionsSpec::Daily(s) => TimeWindowPartitions::from_grain(Grain::Daily, s),
            PartitionsSpec::Weekly(s) => TimeWindowPartitions::from_grain(Grain::Weekly, s),
            PartitionsSpec::Monthly(s) => TimeWindowPartitions::from_grain(Grain::Monthly, s),
            PartitionsSpec::Cron(s) => TimeWindowPartitions::from_cron(s),
            PartitionsSpec::Static(keys) => StaticPartitions::new(keys.clone()).map(Self::Static),
            PartitionsSpec::Dynamic(name) => {
                if name.is_empty() {
                    return invalid("a dynamic partitions set needs a name");
                }
                Ok(Self::Dynamic(name.clone()))
            }
            PartitionsSpec::Multi(dimensions) => MultiPartitions::from_spec(dimensions),
        }
    }

    /// The definition evaluated at `now` (seconds since the epoch) with the given dynamic keys.
    pub fn keyspace<'a>(&'a self, now: i64, dynamic: &'a dyn DynamicPartitions) -> Keyspace<'a> {
        match self {
            Self::TimeWindow(def) => Keyspace::TimeWindow(def.keyspace(now)),
            Self::Static(def) => Keyspace::Static(def),
            Self::Dynamic(name) => {
                Keyspace::Dynamic(DynamicKeyspace::new(dynamic.keys(name).unwrap_or_default()))
            }
            Self::Multi(def) => Keyspace::Multi(Box::new([
                def.dimensions[0].1.keyspace(now, dynamic),
                def.dimensions[1].1.keyspace(now, dynamic),
            ])),
        }
    }

    /// The time-window definition, if this is one.
    pub fn as_time_window(&self) -> Option<&TimeWindowPartitions> {
        match self {
            Self::TimeWindow(def) => Some(def),
            _ => None,
        }
    }

    /// The time zone its windows are in: its own, or its time dimension's; `None` without time.
    pub fn time_zone(&self) -> Option<Tz> {
        match self {
            Self::TimeWindow(def) => Some(def.tz()),
            Self::Multi(def) => def.dimensions.iter().find_map(|(_, d)| d.time_zone()),
            _ => None,
        }
    }

    /// The names of the dynamic partitions sets it reads (its own, or its dimensions').
    pub fn dynamic_sets(&self) -> Vec<&str> {
        match self {
            Self::Dynamic(name) => vec![name.as_str()],
            Self::Multi(def) => def
                .dimensions
                .iter()
                .flat_map(|(_, d)| d.dynamic_sets())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The dimensions of a two-dimensional definition.
    pub fn dimensions(&self) -> Option<&[(String, PartitionsDefinition)]> {
        match self {
            Self::Multi(def) => Some(&def.dimensions),
            _ => None,
        }
    }

    /// A short human description, such as `daily from 2013-01-01 (America/New_York)`.
    pub fn describe(&self) -> String {
        match self {
            Self::TimeWindow(def) => def.describe(),
            Self::Static(def) => format!("static ({} keys)", def.keys.len()),
            Self::Dynamic(name) => format!("dynamic `{name}`"),
            Self::Multi(def) => {
                let dims: Vec<String> = def
                    .dimensions
                    .iter()
                    .map(|(name, d)| format!("{name}: {}", d.describe()))
                    .collect();
                format!("multi ({})", dims.join(" × "))
            }
        }
    }
}

/// The four named grains; each is a cron schedule built from its offsets, as in Dagster.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grain {
    Hourly,
    Daily,
    Weekly,
    Monthly,
}

impl TimeWindowPartitions {
    fn from_grain(
        grain: Grain,
        spec: &TimeWindowSpec,
    ) -> Result<PartitionsDefinition, PartitionsError> {
        let minute = spec.minute_offset.unwrap_or(0);
        let hour = spec.hour_offset.unwrap_or(0);
        if minute > 59 {
            return invalid(format!("minute_offset must be 0-59, found {minute}"));
        }
        if hour > 23 {
            return invalid(format!("hour_offset must be 0-23, found {hour}"));
        }
        let reject = |field: &str, value: Option<u32>| match value {
            Some(_) => {
                invalid(format!("{field} does not apply to {grain:?} partitions").to_lowercase())
            }
            None => Ok(()),
        };
        let cron = match grain {
            Grain::Hourly => {
                reject("hour_offset", spec.hour_offset)?;
                reject("day_offset", spec.day_offset)?;
                format!("{minute} * * * *")
            }
            Grain::Daily => {
                reject("day_offset", spec.day_offset)?;
                format!("{minute} {hour} * * *")
            }
            Grain::Weekly => {
                let day = spec.day_offset.unwrap_or(0);
                if day > 6 {
                    return invalid(format!(
                        "day_offset of weekly partitions is a day of the week, 0 (Sunday) to 6, found {day}"
                    ));
                }
                format!("{minute} {hour} * * {day}")
            }
            Grain::Monthly => {
                let day = spec.day_offset.unwrap_or(1);
                if !(1..=31).contains(&day) {
                    return invalid(format!(
                        "day_offset of monthly partitions is a day of the month, 1 to 31, found {day}"
                    ));
                }
                format!("{minute} {hour} {day} * *")
            }
        };
        let default_fmt = match grain {
            Grain::Hourly => "%Y-%m-%d-%H:%M",
            _ => "%Y-%m-%d",
        };
        // A named grain is a cron schedule built from its offsets, as in Dagster.
        let as_cron = CronWindowSpec {
            schedule: cron,
            start: spec.start.clone(),
            end: spec.end.clone(),
            timezone: spec.timezone.clone(),
            fmt: Some(spec.fmt.clone().unwrap_or_else(|| default_fmt.to_string())),
            end_offset: spec.end_offset,
            exclusions: spec.exclusions.clone(),
        };
        Self::build(format!("{grain:?}").to_lowercase(), &as_cron)
    }

    fn from_cron(spec: &CronWindowSpec) -> Result<PartitionsDefinition, PartitionsError> {
        Self::build(format!("cron '{}'", spec.schedule), spec)
    }

    fn build(
        label: String,
        spec: &CronWindowSpec,
    ) -> Result<PartitionsDefinition, PartitionsError> {
        let fmt = spec.fmt.as_deref().unwrap_or("%Y-%m-%d-%H:%M");
        let (start, end) = (spec.start.as_str(), spec.end.as_deref());
        let end_offset = spec.end_offset.unwrap_or(0);
        let exclusions = spec.exclusions.as_deref().unwrap_or_default();
        let tz = parse_timezone(spec.timezone.as_deref().unwrap_or("UTC"))?;
        check_format(fmt)?;
        let cron =
            CronSchedule::parse(&spec.schedule).map_err(|e| PartitionsError(e.to_string()))?;
        let start = parse_in_format(start, fmt, tz).ok_or_else(|| {
            PartitionsError(format!(
                "start `{start}` does not match the key format `{fmt}`"
            ))
        })?;
        let end = match end {
            Some(end) => Some(parse_in_format(end, fmt, tz).ok_or_else(|| {
                PartitionsError(format!("end `{end}` does not match the key format `{fmt}`"))
            })?),
            None => None,
        };
        let schedule = ZonedSchedule::new(cron, tz, start);
        let exclusions = exclusions
            .iter()
            .map(|text| {
                if let Ok(cron) = CronSchedule::parse(text) {
                    return Ok(Exclusion::Cron(ZonedSchedule::new(cron, tz, start)));
                }
                parse_exclusion_time(text, fmt, tz).map(Exclusion::Instant).ok_or_else(|| {
                    PartitionsError(format!(
                        "exclusion `{text}` is neither a cron schedule nor a date (YYYY-MM-DD) or date-time"
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        let fmt_items = chrono::format::StrftimeItems::new(fmt)
            .parse_to_owned()
            .map_err(|e| PartitionsError(format!("key format `{fmt}`: {e}")))?;
        let def = Self {
            label,
            schedule,
            fmt: fmt.to_string(),
            fmt_items,
            start,
            end,
            end_offset,
            exclusions,
        };
        def.check_granularity()?;
        Ok(PartitionsDefinition::TimeWindow(def))
    }

    /// Rejects a key format too coarse for the schedule, as Dagster does: two windows near the
    /// start may not share a key.
    fn check_granularity(&self) -> Result<(), PartitionsError> {
        let mut tick = self.schedule.tick_at_or_after(self.start);
        let mut previous = self.format_key(tick);
        for _ in 0..64 {
            tick = self.schedule.next_tick(tick);
            let key = self.format_key(tick);
            if key == previous {
                return invalid(format!(
                    "key format `{}` gives two windows the same key (`{key}`): add the finer fields the schedule `{}` needs, such as %H:%M",
                    self.fmt,
                    self.schedule.cron()
                ));
            }
            previous = key;
        }
        Ok(())
    }

    /// The schedule whose ticks start windows.
    pub fn schedule(&self) -> &ZonedSchedule {
        &self.schedule
    }

    /// The time zone.
    pub fn tz(&self) -> Tz {
        self.schedule.tz()
    }

    /// The key format.
    pub fn fmt(&self) -> &str {
        &self.fmt
    }

    /// The declared start instant.
    pub fn start(&self) -> i64 {
        self.start
    }

    /// The declared end instant.
    pub fn end(&self) -> Option<i64> {
        self.end
    }

    fn describe(&self) -> String {
        let start = self.format_key(self.schedule.tick_at_or_after(self.start));
        let end = match self.end {
            Some(end) => format!(" to {}", self.schedule.zoned(end).format(&self.fmt)),
            None => String::new(),
        };
        format!("{} from {start}{end} ({})", self.label, self.tz())
    }

    /// The key of the window starting at tick `start`: Dagster's `dst_safe_strftime`.
    pub fn format_key(&self, start: i64) -> String {
        use std::fmt::Write;
        let zoned = self.schedule.zoned(start);
        let mut key = String::with_capacity(self.fmt.len() + 8);
        let _ = write!(key, "{}", zoned.format_with_items(self.fmt_items.iter()));
        if !self.fmt.contains("%z")
            && self.schedule.repeats_every_hour()
            && is_second_of_repeated_time(self.tz(), start)
        {
            key.push_str(&zoned.format("%z").to_string());
        }
        key
    }

    /// The instant a key names (before snapping to a tick): Dagster's `dst_safe_strptime`.
    pub fn parse_key(&self, key: &str) -> Option<i64> {
        parse_in_format(key, &self.fmt, self.tz())
    }

    /// The window a key names, if the key is canonical for this definition (whether or not the
    /// partition exists at a given moment).
    pub fn window_of_key(&self, key: &str) -> Option<TimeWindow> {
        let start = self.schedule.tick_at_or_after(self.parse_key(key)?);
        (self.format_key(start) == key).then(|| self.window(start))
    }

    fn window(&self, start: i64) -> TimeWindow {
        TimeWindow {
            start,
            end: self.schedule.next_tick(start),
        }
    }

    /// Whether any windows are excluded.
    pub fn has_exclusions(&self) -> bool {
        !self.exclusions.is_empty()
    }

    /// Whether the window starting at `tick` is excluded.
    pub fn is_excluded_tick(&self, tick: i64) -> bool {
        self.is_excluded(tick)
    }

    /// Dagster's `equal_except_for_start_or_end`.
    pub fn equal_except_for_start_or_end(&self, other: &Self) -> bool {
        self.schedule == other.schedule
            && self.fmt == other.fmt
            && self.end_offset == other.end_offset
            && self.exclusions == other.exclusions
    }

    /// Daily at midnight without exclusions (Dagster's `is_basic_daily`).
    pub fn is_basic_daily(&self) -> bool {
        self.exclusions.is_empty() && self.schedule.cron().as_str() == "0 0 * * *"
    }

    /// Hourly on the hour without exclusions (Dagster's `is_basic_hourly`).
    pub fn is_basic_hourly(&self) -> bool {
        self.exclusions.is_empty() && self.schedule.cron().as_str() == "0 * * * *"
    }

    /// The window containing `t` (Dagster's `get_partition_key_for_timestamp`): with
    /// `end_closed`, a window ending exactly at `t` contains it.
    pub fn window_containing(&self, t: i64, end_closed: bool) -> TimeWindow {
        let mut prev = if end_closed {
            self.schedule.prev_tick(t)
        } else {
            self.schedule.tick_at_or_before(t)
        };
        while self.is_excluded(prev) {
            prev = self.schedule.prev_tick(prev);
        }
        let next = self.first_window_from(t);
        let start = if end_closed || next > t { prev } else { next };
        self.window(start)
    }

    /// `t` shifted by `n` windows, skipping excluded ones (Dagster's `_offsetted_datetime`).
    pub fn offset_instant(&self, t: i64, n: i64) -> i64 {
        if n == 0 {
            return t;
        }
        if self.exclusions.is_empty() {
            return self.schedule.advance(t, n);
        }
        let mut result = t;
        for _ in 0..n.unsigned_abs() {
            result = if n < 0 {
                self.windows_ending_by(result).next().expect("infinite")
            } else {
                let start = self.windows_starting_from(result).next().expect("infinite");
                self.schedule.next_tick(start)
            };
        }
        result
    }

    fn is_excluded(&self, tick: i64) -> bool {
        self.exclusions.iter().any(|exclusion| match exclusion {
            Exclusion::Instant(t) => *t == tick,
            Exclusion::Cron(schedule) => schedule.is_tick(tick),
        })
    }

    /// The first non-excluded tick at or after `t`.
    fn first_window_from(&self, t: i64) -> i64 {
        let mut tick = self.schedule.tick_at_or_after(t);
        while self.is_excluded(tick) {
            tick = self.schedule.next_tick(tick);
        }
        tick
    }

    /// Start of the latest non-excluded window that ends at or before `t`, then earlier ones.
    fn windows_ending_by(&self, t: i64) -> impl Iterator<Item = i64> + '_ {
        let mut end = self.schedule.tick_at_or_before(t);
        std::iter::from_fn(move || {
            loop {
                let start = self.schedule.prev_tick(end);
                end = start;
                if !self.is_excluded(start) {
                    return Some(start);
                }
            }
        })
    }

    /// Starts of non-excluded windows starting at or after `t`.
    fn windows_starting_from(&self, t: i64) -> impl Iterator<Item = i64> + '_ {
        let mut next = self.schedule.tick_at_or_after(t);
        std::iter::from_fn(move || {
            loop {
                let start = next;
                next = self.schedule.next_tick(start);
                if !self.is_excluded(start) {
                    return Some(start);
                }
            }
        })
    }

    /// The first partition's window start at `now`, as Dagster's `_get_first_partition_window`.
    fn first_partition(&self, now: i64) -> Option<i64> {
        let first = self.first_window_from(self.start);
        if self.end.is_some_and(|end| end <= self.start) {
            return None;
        }
        let first_end = self.schedule.next_tick(first);
        let limit = match self.end_offset {
            0 => now,
            n if n > 0 => self
                .windows_starting_from(now)
                .nth(n as usize)
                .expect("infinite"),
            n => self
                .windows_ending_by(now)
                .nth((n.unsigned_abs() - 1) as usize)
                .expect("infinite"),
        };
        (first_end <= limit).then_some(first)
    }

    /// The last partition's window start at `now`, as Dagster's `_get_last_partition_window`.
    fn last_partition(&self, now: i64, first: i64) -> i64 {
        if self.end_offset == 0 {
            let bound = match self.end {
                Some(end) if end < now => end,
                _ => now,
            };
            return self.windows_ending_by(bound).next().expect("infinite");
        }
        let last_before_end = self
            .end
            .map(|end| self.windows_ending_by(end).next().expect("infinite"));
        let mut ending_by_now = self.windows_ending_by(now);
        let zero = ending_by_now.next().expect("infinite");
        let current = if self.end_offset < 0 {
            ending_by_now
                .nth((self.end_offset.unsigned_abs() - 1) as usize)
                .expect("infinite")
        } else {
            self.windows_starting_from(self.schedule.next_tick(zero))
                .nth((self.end_offset - 1) as usize)
                .expect("infinite")
        };
        match last_before_end {
            Some(last) if last <= current => last,
            _ if current < first => first,
            _ => current,
        }
    }

    /// This definition's partitions at `now`.
    pub fn keyspace(&self, now: i64) -> TimeKeyspace<'_> {
        let Some(first) = self.first_partition(now) else {
            return TimeKeyspace {
                def: self,
                first: 0,
                len: 0,
                excluded: Vec::new(),
            };
        };
        let last = self.last_partition(now, first);
        let positions = self.schedule.ticks_between(first, last);
        let excluded: Vec<i64> = if self.exclusions.is_empty() || positions < 0 {
            Vec::new()
        } else {
            self.excluded_positions(first, last)
        };
        let len = (positions + 1 - excluded.len() as i64).max(0) as u64;
        TimeKeyspace {
            def: self,
            first,
            len,
            excluded,
        }
    }

    /// Positions (tick offsets from `first`) of excluded ticks in `[first, last]`.
    fn excluded_positions(&self, first: i64, last: i64) -> Vec<i64> {
        let mut ticks: Vec<i64> = Vec::new();
        for exclusion in &self.exclusions {
            match exclusion {
                Exclusion::Instant(t) => {
                    if (first..=last).contains(t) && self.schedule.is_tick(*t) {
                        ticks.push(*t);
                    }
                }
                Exclusion::Cron(cron) => {
                    let mut t = cron.tick_at_or_after(first);
                    while t <= last {
                        if self.schedule.is_tick(t) {
                            ticks.push(t);
                        }
                        t = cron.next_tick(t);
                    }
                }
            }
        }
        ticks.sort_unstable();
        ticks.dedup();
        ticks
            .into_iter()
            .map(|t| self.schedule.ticks_between(first, t))
            .collect()
    }
}

/// A time-window definition's partitions at one moment.
#[derive(Clone, Debug)]
pub struct TimeKeyspace<'a> {
    def: &'a TimeWindowPartitions,
    first: i64,
    len: u64,
    /// Tick positions after `first` that are excluded, ascending.
    excluded: Vec<i64>,
}

impl TimeKeyspace<'_> {
    /// The definition.
    pub fn definition(&self) -> &TimeWindowPartitions {
        self.def
    }

    /// The number of partitions.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there are no partitions.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The window of the partition at `index`.
    pub fn window(&self, index: u64) -> Option<TimeWindow> {
        (index < self.len).then(|| {
            let mut position = index as i64;
            for &excluded in &self.excluded {
                if excluded <= position {
                    position += 1;
                } else {
                    break;
                }
            }
            self.def
                .window(self.def.schedule.advance(self.first, position))
        })
    }

    /// The key of the partition at `index`.
    pub fn key(&self, index: u64) -> Option<String> {
        self.window(index).map(|w| self.def.format_key(w.start))
    }

    /// The index of the partition whose window starts at tick `start`.
    pub fn index_of_start(&self, start: i64) -> Option<u64> {
        if self.len == 0 || start < self.first || !self.def.schedule.is_tick(start) {
            return None;
        }
        let position = self.def.schedule.ticks_between(self.first, start);
        if self.excluded.binary_search(&position).is_ok() {
            return None;
        }
        let skipped = self.excluded.partition_point(|&p| p < position) as i64;
        let index = (position - skipped) as u64;
        (index < self.len).then_some(index)
    }

    /// The index of a key.
    pub fn index_of(&self, key: &str) -> Option<u64> {
        let window = self.def.window_of_key(key)?;
        self.index_of_start(window.start)
    }

    /// The index of the first partition whose window starts at or after `t` (`len` if none).
    pub fn first_index_starting_at_or_after(&self, t: i64) -> u64 {
        if self.len == 0 {
            return 0;
        }
        if t <= self.first {
            return 0;
        }
        let tick = self.def.schedule.tick_at_or_after(t);
        let position = self.def.schedule.ticks_between(self.first, tick);
        let skipped = self.excluded.partition_point(|&p| p < position) as i64;
        ((position - skipped).max(0) as u64).min(self.len)
    }
}

/// A dynamic set's partitions at one moment.
#[derive(Clone, Debug)]
pub struct DynamicKeyspace<'a> {
    keys: &'a [String],
    index: HashMap<&'a str, u64>,
}

impl<'a> DynamicKeyspace<'a> {
    fn new(keys: &'a [String]) -> Self {
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i as u64))
            .collect();
        Self { keys, index }
    }
}

/// A definition's partitions at one moment: ordered keys with O(1)/O(log n) lookups.
#[derive(Clone, Debug)]
pub enum Keyspace<'a> {
    /// Time windows.
    TimeWindow(TimeKeyspace<'a>),
    /// Static keys.
    Static(&'a StaticPartitions),
    /// Dynamic keys.
    Dynamic(DynamicKeyspace<'a>),
    /// Two dimensions; index = first × len(second) + second.
    Multi(Box<[Keyspace<'a>; 2]>),
}

impl<'a> Keyspace<'a> {
    /// A subset of this keyspace from indices, stored the way its kind is: bitsets for static
    /// and dynamic keys, ranges for time windows and multi partitions.
    pub fn subset(&self, indices: impl IntoIterator<Item = u64>) -> PartitionSubset {
        match self {
            Self::Static(_) | Self::Dynamic(_) => PartitionSubset::bits_from_indices(indices),
            _ => PartitionSubset::from_indices(indices),
        }
    }

    /// The number of partitions.
    pub fn len(&self) -> u64 {
        match self {
            Keyspace::TimeWindow(k) => k.len(),
            Keyspace::Static(k) => k.keys.len() as u64,
            Keyspace::Dynamic(k) => k.keys.len() as u64,
            Keyspace::Multi(dims) => dims[0].len() * dims[1].len(),
        }
    }

    /// Whether there are no partitions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key at `index`.
    pub fn key(&self, index: u64) -> Option<String> {
        match self {
            Keyspace::TimeWindow(k) => k.key(index),
            Keyspace::Static(k) => k.keys.get(index as usize).cloned(),
            Keyspace::Dynamic(k) => k.keys.get(index as usize).cloned(),
            Keyspace::Multi(dims) => {
                let (a, b) = self.split_multi_index(index)?;
                Some(format!("{}|{}", dims[0].key(a)?, dims[1].key(b)?))
            }
        }
    }

    /// The index of `key`, if it is a partition.
    pub fn index_of(&self, key: &str) -> Option<u64> {
        match self {
            Keyspace::TimeWindow(k) => k.index_of(key),
            Keyspace::Static(k) => k.index.get(key).copied(),
            Keyspace::Dynamic(k) => k.index.get(key).copied(),
            Keyspace::Multi(dims) => {
                let (a, b) = key.split_once('|')?;
                let (a, b) = (dims[0].index_of(a)?, dims[1].index_of(b)?);
                Some(a * dims[1].len() + b)
            }
        }
    }

    /// The time window of the partition at `index`: its own for time partitions, its time
    /// dimension's for multi partitions, none otherwise.
    pub fn window(&self, index: u64) -> Option<TimeWindow> {
        match self {
            Keyspace::TimeWindow(k) => k.window(index),
            Keyspace::Multi(dims) => {
                let (a, b) = self.split_multi_index(index)?;
                dims[0].window(a).or_else(|| dims[1].window(b))
            }
            _ => None,
        }
    }

    /// The two dimension indices of a multi index.
    pub fn split_multi_index(&self, index: u64) -> Option<(u64, u64)> {
        match self {
            Keyspace::Multi(dims) if index < self.len() => {
                let second = dims[1].len();
                Some((index / second, index % second))
            }
            _ => None,
        }
    }

    /// The dimensions of a multi keyspace.
    pub fn dimensions(&self) -> Option<&[Keyspace<'a>; 2]> {
        match self {
            Keyspace::Multi(dims) => Some(dims),
            _ => None,
        }
    }

    /// Every key in order. Allocates one string per partition: for listings, not for set logic.
    pub fn keys(&self) -> impl Iterator<Item = String> + '_ {
        (0..self.len()).map(|i| self.key(i).expect("index in range"))
    }
}

/// Why `key` cannot be added to a dynamic partitions set, if it cannot: it must be non-empty
/// and free of what Dagster refuses in keys (control characters, `...`) and of `|`, which
/// separates the dimensions of a two-dimensional key.
pub fn check_dynamic_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("a partition key cannot be empty".to_string());
    }
    if let Some(c) = key.chars().find(|c| c.is_control()) {
        return Err(format!(
            "a partition key cannot hold the control character {c:?}"
        ));
    }
    for forbidden in ["...", "|"] {
        if key.contains(forbidden) {
            return Err(format!("a partition key cannot contain `{forbidden}`"));
        }
    }
    Ok(())
}

impl StaticPartitions {
    fn new(keys: Vec<String>) -> Result<Self, PartitionsError> {
        let mut index = HashMap::with_capacity(keys.len());
        for (i, key) in keys.iter().enumerate() {
            if key.is_empty() {
                return invalid("static partition keys may not be empty");
            }
            if index.insert(key.clone(), i as u64).is_some() {
                return invalid(format!("duplicate static partition key `{key}`"));
            }
        }
        Ok(Self { keys, index })
    }

    /// The keys, in declared order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

impl MultiPartitions {
    fn from_spec(
        dimensions: &BTreeMap<String, PartitionsSpec>,
    ) -> Result<PartitionsDefinition, PartitionsError> {
        if dimensions.len() != 2 {
            return invalid(format!(
                "multi partitions need exactly two dimensions, found {}",
                dimensions.len()
            ));
        }
        let mut checked = Vec::with_capacity(2);
        for (name, spec) in dimensions {
            let def = PartitionsDefinition::from_spec(spec)
                .map_err(|e| PartitionsError(format!("dimension `{name}`: {e}")))?;
            match &def {
                PartitionsDefinition::Multi(_) => {
                    return invalid(format!(
                        "dimension `{name}` may not itself be multi-partitioned"
                    ));
                }
                PartitionsDefinition::Static(s) => {
                    if let Some(key) = s.keys.iter().find(|k| k.contains(['|', '[', ']', ','])) {
                        return invalid(format!(
                            "dimension `{name}`: key `{key}` contains one of `|`, `[`, `]`, `,`, which multi-partition keys reserve"
                        ));
                    }
                }
                _ => {}
            }
            checked.push((name.clone(), def));
        }
        Ok(PartitionsDefinition::Multi(Self {
            dimensions: checked,
        }))
    }
}

fn parse_timezone(name: &str) -> Result<Tz, PartitionsError> {
    crate::suggest::parse_timezone(name).map_err(|(message, hint)| match hint {
        Some(hint) => PartitionsError(format!("{message}; {hint}")),
        None => PartitionsError(message),
    })
}

fn check_format(fmt: &str) -> Result<(), PartitionsError> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(fmt).any(|item| matches!(item, Item::Error))
        || !strptime::is_supported(fmt)
    {
        return invalid(format!(
            "`{fmt}` is not a supported key format; use %Y %y %m %d %H %M %S %b %B %z %% and literal text"
        ));
    }
    if !fmt.contains("%Y") && !fmt.contains("%y") && !fmt.contains("%G") {
        return invalid(format!("key format `{fmt}` must include the year"));
    }
    Ok(())
}

/// Parses a date-time written in `fmt` in `tz` (Dagster's `dst_safe_strptime`): a key of the
/// repeated fall-back hour may carry its UTC offset; a naive time that happens twice is the
/// first, one that does not exist is read with the offset before the gap (Python's `fold=0`).
fn parse_in_format(text: &str, fmt: &str, tz: Tz) -> Option<i64> {
    let parsed = strptime::parse(text, fmt).or_else(|| {
        (!fmt.contains("%z"))
            .then(|| strptime::parse(text, &format!("{fmt}%z")))
            .flatten()
    })?;
    Some(match parsed.offset {
        Some(offset) => parsed.local.and_utc().timestamp() - i64::from(offset.local_minus_utc()),
        None => local_fold0(tz, parsed.local),
    })
}

fn local_fold0(tz: Tz, naive: NaiveDateTime) -> i64 {
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.timestamp(),
        chrono::LocalResult::Ambiguous(earlier, _) => earlier.timestamp(),
        chrono::LocalResult::None => {
            let probe = naive.and_utc().timestamp() - 3 * 3600;
            let before = offset_seconds(&tz, probe - offset_seconds(&tz, probe));
            naive.and_utc().timestamp() - before
        }
    }
}

fn parse_exclusion_time(text: &str, fmt: &str, tz: Tz) -> Option<i64> {
    if let Some(t) = parse_in_format(text, fmt, tz) {
        return Some(t);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp());
    }
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
    ]
    .iter()
    .find_map(|fmt| parse_in_format(text, fmt, tz))
}

fn is_second_of_repeated_time(tz: Tz, t: i64) -> bool {
    let local = super::time_window::instant(t)
        .with_timezone(&tz)
        .naive_local();
    matches!(tz.from_local_datetime(&local), chrono::LocalResult::Ambiguous(_, later) if later.timestamp() == t)
}
