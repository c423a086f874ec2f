-- Orders placed (cancelled ones left out) today and on the same weekday last week,
-- each up to the same time of day, by hour (UTC). Two ranges of the covering index
-- on placed_at, read index-only: the cost follows one day's orders, not the history.
SELECT 'today' AS day,
       extract(hour FROM placed_at AT TIME ZONE 'UTC')::int AS hour,
       count(*) AS orders,
       coalesce(sum(total_cents), 0)::bigint AS revenue_cents
FROM orders
WHERE placed_at >= :today AND placed_at < :now AND status = 'placed'
GROUP BY 2
UNION ALL
SELECT 'last_week',
       extract(hour FROM placed_at AT TIME ZONE 'UTC')::int,
       count(*),
       coalesce(sum(total_cents), 0)::bigint
FROM orders
WHERE placed_at >= :last_week AND placed_at < :last_week_now AND status = 'placed'
GROUP BY 2
