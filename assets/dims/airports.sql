/*---
description = "One row per airport: FAA code, name, position, altitude and IANA time zone"
owners = ["team:platform"]
tags = { team = "platform", cost_center = "reference" }
automation = "eager"
checks = [
  { not_null = ["faa", "airport_name", "lat", "lon"] },
  { unique = ["faa"], severity = "warn" },
  { sql = "SELECT * FROM this WHERE lat NOT BETWEEN -90 AND 90 OR lon NOT BETWEEN -180 AND 180", name = "coordinates_in_range" },
]
---*/
SELECT
  faa,
  trim(name) AS airport_name,
  CAST(lat AS DOUBLE) AS lat,
  CAST(lon AS DOUBLE) AS lon,
  CAST(alt AS BIGINT) AS altitude_ft,
  -- the IANA zone when the source has one; otherwise null (the numeric `tz` is dropped)
  tzone AS time_zone
FROM raw.airports
WHERE faa IS NOT NULL
