/*---
description = "One row per airline: carrier code and trimmed name"
owners = ["team:platform"]
tags = { team = "platform", cost_center = "reference" }
automation = "eager"
checks = [
  { not_null = ["carrier", "airline_name"] },
  { unique = ["carrier"], severity = "warn" },
]
---*/
SELECT
  trim(carrier) AS carrier,
  trim(name) AS airline_name
FROM raw.airlines
WHERE carrier IS NOT NULL
