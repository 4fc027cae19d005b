/*---
description = "Ten sales a day, of 1 to 10 (a stand-in for a real source)"
partitions = { daily = { start = "2024-01-01", end = "2024-02-01" } }
---*/
SELECT $partition_key AS day, amount FROM (SELECT unnest(range(1, 11)) AS amount)
