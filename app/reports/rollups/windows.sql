-- The customer sales windows: their first day, the first day their length back from
-- :today would give, and how many days apart the two are.
SELECT window_days, starts_on, CAST(:today AS date) - window_days + 1 AS target,
       abs(starts_on - (CAST(:today AS date) - window_days + 1)) AS days_apart
FROM customer_sales_windows
ORDER BY window_days
