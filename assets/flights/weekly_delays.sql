/*---
description = "Per week (Monday to Sunday, New York time), carrier and origin: flights and delay statistics"
owners = ["ops@example.com", "team:ops"]
tags = { team = "ops", cost_center = "analytics" }
# Weeks start on Monday (day_offset = 1); 51 whole weeks of 2013, 2013-01-07 .. 2013-12-23.
partitions = { weekly = { start = "2013-01-07", end = "2013-12-30", timezone = "America/New_York", day_offset = 1 } }
# Dagster's eager() without in_latest_time_window(): any week, not only the latest, is requested
# when it newly goes missing or one of its days is updated.
automation = "(newly_missing | any_deps_updated).since_last_handled() & !any_deps_missing & !any_deps_in_progress & !in_progress"
freshness = { partition_lag = "1d", lookback = "30d" }
checks = [
  { not_null = ["carrier", "origin", "flights", "days"] },
  { unique = ["carrier", "origin"], severity = "warn" },
  { sql = "SELECT * FROM this WHERE days > 7", name = "at_most_seven_days" },
]
---*/
-- flights.daily_delays exposes the seven days of this week (the default time_window mapping
-- from a daily to a weekly definition). The statistics are recomputed from the daily sums,
-- so they are exact, not averages of averages.
SELECT
  carrier,
  origin,
  min(flight_date) AS first_day,
  max(flight_date) AS last_day,
  count(DISTINCT flight_date) AS days,
  sum(flights) AS flights,
  sum(dep_delay_sum) / sum(flights) AS avg_dep_delay,
  sum(arr_delay_sum) / nullif(sum(arrivals), 0) AS avg_arr_delay,
  CAST(sum(flights_delayed_15) AS DOUBLE) / sum(flights) AS share_delayed_15
FROM flights.daily_delays
GROUP BY carrier, origin
