/*---
description = "Per day, carrier and origin: delay statistics next to that day's weather at the origin, with airline and airport names"
owners = ["ops@example.com", "team:ops"]
tags = { team = "ops", cost_center = "analytics" }
partitions = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }
automation = "eager & all_deps_blocking_checks_passed"
freshness = { deadline = "0 9 * * *", lower_bound = "24h", timezone = "America/New_York" }
checks = [
  { not_null = ["flight_date", "carrier", "origin", "airline_name", "origin_name"] },
  { unique = ["carrier", "origin"], severity = "warn" },
  { accepted_values = { column = "weather", values = ["dry", "wet", "very_wet", "unknown"] } },
  { row_count = { min = 1 }, blocking = true },
]
---*/
-- flights.daily_delays and weather.daily_weather expose this day (same daily definition);
-- dims.airlines and dims.airports are unpartitioned, so they are read whole.
-- Weather is a LEFT JOIN: 2013-12-31 has no observations, and its rows say "unknown".
SELECT
  d.flight_date,
  d.carrier,
  al.airline_name,
  d.origin,
  ap.airport_name AS origin_name,
  d.flights,
  d.avg_dep_delay,
  d.avg_arr_delay,
  d.share_delayed_15,
  w.avg_temp_f,
  w.precip_in,
  w.max_wind_mph,
  w.min_visib_mi,
  CASE
    WHEN w.precip_in IS NULL THEN 'unknown'
    WHEN w.precip_in = 0 THEN 'dry'
    WHEN w.precip_in < 0.5 THEN 'wet'
    ELSE 'very_wet'
  END AS weather
FROM flights.daily_delays AS d
LEFT JOIN weather.daily_weather AS w ON w.origin = d.origin
LEFT JOIN dims.airlines AS al ON al.carrier = d.carrier
LEFT JOIN dims.airports AS ap ON ap.faa = d.origin
