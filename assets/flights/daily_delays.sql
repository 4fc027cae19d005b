/*---
description = "Per day, carrier and origin: flights, average departure and arrival delay, share delayed more than 15 minutes"
owners = ["ops@example.com", "team:ops"]
tags = { team = "ops", cost_center = "analytics" }
partitions = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }
automation = "eager | refresh_stale('30d')"
freshness = { max_lag = "26h", warn_lag = "20h", cron = "0 9 * * *" }
checks = [
  { not_null = ["carrier", "origin", "flights"] },
  { unique = ["carrier", "origin"], severity = "warn" },
  { accepted_values = { column = "origin", values = ["EWR", "JFK", "LGA"] } },
  { row_count = { min = 1 }, blocking = true },
]
retry = { max_retries = 2, delay = "5s", backoff = "exponential", jitter = true }
timeout = "15m"
pool = "warehouse"
# A backfill computes its whole range in one query: flights.clean_flights then holds every day of
# the range, each row tagged with its `partition_key`, and this query groups by it. Strata splits
# the result by `partition_key` and commits one partition per day.
backfill = "single_run"
---*/
SELECT
  partition_key,
  flight_date,
  carrier,
  origin,
  count(*) AS flights,
  sum(CASE WHEN delayed_15 THEN 1 ELSE 0 END) AS flights_delayed_15,
  sum(dep_delay) AS dep_delay_sum,
  count(arr_delay) AS arrivals,
  sum(arr_delay) AS arr_delay_sum,
  avg(dep_delay) AS avg_dep_delay,
  avg(arr_delay) AS avg_arr_delay,
  avg(CASE WHEN delayed_15 THEN 1.0 ELSE 0.0 END) AS share_delayed_15
FROM flights.clean_flights
GROUP BY partition_key, flight_date, carrier, origin
