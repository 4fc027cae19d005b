/*---
description = "Per day and carrier: departure delay statistics over the 7 days up to and including that day"
owners = ["ds@example.com", "team:data_science"]
tags = { team = "data_science", cost_center = "ml" }
partitions = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }
automation = "on_cron('0 9 * * *', 'America/New_York') & !any_deps_missing"
freshness = { deadline = "0 9 * * *", lower_bound = "24h", timezone = "America/New_York" }
checks = [
  { not_null = ["carrier", "flights_7d"] },
  { unique = ["carrier"], severity = "warn" },
  { sql = "SELECT * FROM this WHERE days_7d > 7", name = "window_is_at_most_seven_days" },
]
retry = { max_retries = 1, delay = "10s" }
timeout = "10m"

# A rolling window: partition D reads days D-6 .. D of flights/clean_flights (offsets are in units
# of this asset's definition, days). On 2013-01-01 .. 2013-01-06 the window is clamped to the days
# that exist, so the first partitions average fewer days (see days_7d).
[deps."flights/clean_flights"]
mapping = { time_window = { start_offset = -6, end_offset = 0 } }
---*/
SELECT
  carrier,
  count(DISTINCT flight_date) AS days_7d,
  count(*) AS flights_7d,
  avg(dep_delay) AS avg_dep_delay_7d,
  avg(arr_delay) AS avg_arr_delay_7d,
  avg(CASE WHEN delayed_15 THEN 1.0 ELSE 0.0 END) AS share_delayed_15_7d
FROM flights.clean_flights
GROUP BY carrier
