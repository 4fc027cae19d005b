/*---
description = "Per calendar month (New York time), carrier and origin: flights and delay statistics"
owners = ["ops@example.com", "team:ops"]
tags = { team = "ops", cost_center = "analytics" }
partitions = { monthly = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }
automation = "eager"
freshness = { partition_lag = "2d", warn_partition_lag = "1d", lookback = "90d" }
checks = [
  { not_null = ["carrier", "origin", "flights"] },
  { unique = ["carrier", "origin"], severity = "warn" },
  { row_count = { min = 1 }, blocking = true },
]
---*/
-- flights.daily_delays exposes every day of this month (the default time_window mapping).
SELECT
  carrier,
  origin,
  count(DISTINCT flight_date) AS days,
  sum(flights) AS flights,
  sum(dep_delay_sum) / sum(flights) AS avg_dep_delay,
  sum(arr_delay_sum) / nullif(sum(arrivals), 0) AS avg_arr_delay,
  CAST(sum(flights_delayed_15) AS DOUBLE) / sum(flights) AS share_delayed_15
FROM flights.daily_delays
GROUP BY carrier, origin
