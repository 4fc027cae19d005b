/*---
description = "Flights that departed (cancelled ones dropped), typed, with the scheduled departure as a UTC timestamp"
owners = ["ops@example.com", "team:ops"]
tags = { team = "ops", cost_center = "analytics" }
partitions = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }
automation = "eager"
freshness = { max_lag = "26h", warn_lag = "20h" }
checks = [
  { not_null = ["flight_date", "carrier", "origin", "dest", "dep_time", "dep_delay", "sched_dep_utc"] },
  { accepted_values = { column = "origin", values = ["EWR", "JFK", "LGA"] } },
  { row_count = { min = 1 }, blocking = true },
  { sql = "SELECT * FROM this WHERE dep_delay < -120", name = "no_absurd_early_departures" },
]
retry = { max_retries = 3, delay = "2s", backoff = "exponential", jitter = true }
timeout = "10m"
---*/
-- raw.flights is the same daily partition (the default mapping between two daily definitions),
-- so no date filter is needed here.
SELECT
  make_date(year, month, day) AS flight_date,
  carrier,
  flight,
  tailnum,
  origin,
  dest,
  sched_dep_time,
  dep_time,
  CAST(dep_delay AS DOUBLE) AS dep_delay,
  sched_arr_time,
  arr_time,
  CAST(arr_delay AS DOUBLE) AS arr_delay,
  CAST(air_time AS DOUBLE) AS air_time,
  distance,
  -- time_hour is the scheduled hour in UTC ("2013-01-01T10:00:00Z"); add the scheduled minute
  to_timestamp(concat(substr(time_hour, 1, 14), lpad(CAST(minute AS VARCHAR), 2, '0'), ':00Z')) AS sched_dep_utc,
  dep_delay > 15 AS delayed_15
FROM raw.flights
WHERE dep_time IS NOT NULL
