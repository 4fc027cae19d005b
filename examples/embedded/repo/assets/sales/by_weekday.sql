/*---
description = "Sales totals by weekday over every materialized day"
---*/
SELECT weekday, count(*) AS days, sum(total) AS total
FROM sales.weekday_totals
GROUP BY weekday
