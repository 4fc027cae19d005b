/*---
description = "Per day and origin airport (one partition each): flights and delays by destination"
owners = ["ops@example.com", "team:ops"]
tags = { team = "ops", cost_center = "analytics" }
# Two dimensions, ordered by name: keys are "<date>|<origin>", e.g. "2013-01-01|EWR".
partitions = { multi = { date = { daily = { start = "2013-01-01", end = "2014-01-01", timezone = "America/New_York" } }, origin = { static = ["EWR", "JFK", "LGA"] } } }
automation = "eager"
checks = [
  { not_null = ["origin", "dest", "flights"] },
  { unique = ["dest"], severity = "warn" },
  { accepted_values = { column = "origin", values = ["EWR", "JFK", "LGA"] } },
]

# Partition "2013-01-01|EWR" reads partition "2013-01-01" of flights/clean_flights (the date
# dimension); the origin is selected below from the bound $partition_key.
[deps."flights/clean_flights"]
mapping = { multi_to_single = { dimension = "date" } }
---*/
SELECT
  origin,
  dest,
  count(*) AS flights,
  count(DISTINCT carrier) AS carriers,
  avg(dep_delay) AS avg_dep_delay,
  avg(arr_delay) AS avg_arr_delay,
  sum(distance) AS total_distance
FROM flights.clean_flights
WHERE origin = split_part(CAST($partition_key AS VARCHAR), '|', 2)
GROUP BY origin, dest
