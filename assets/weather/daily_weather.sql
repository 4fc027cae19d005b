/*---
description = "Per day and origin airport: observations, temperature, precipitation, wind and visibility"
owners = ["ops@example.com", "team:ops"]
tags = { team = "ops", cost_center = "analytics" }
partitions = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }
automation = "eager"
freshness = { partition_lag = "9h", lookback = "7d" }
checks = [
  { not_null = ["origin", "weather_date", "observations"] },
  { unique = ["origin"], severity = "warn" },
  { accepted_values = { column = "origin", values = ["EWR", "JFK", "LGA"] } },
  # The source has one impossible wind speed (1048 mph at EWR on 2013-02-12): a warning, not a stop.
  { sql = "SELECT * FROM this WHERE max_wind_mph > 200", name = "plausible_wind_speed", severity = "warn" },
]
---*/
SELECT
  origin,
  make_date(year, month, day) AS weather_date,
  count(*) AS observations,
  avg(temp) AS avg_temp_f,
  min(temp) AS min_temp_f,
  max(temp) AS max_temp_f,
  sum(coalesce(precip, 0.0)) AS precip_in,
  max(wind_speed) AS max_wind_mph,
  max(wind_gust) AS max_gust_mph,
  min(visib) AS min_visib_mi
FROM raw.weather
GROUP BY origin, year, month, day
