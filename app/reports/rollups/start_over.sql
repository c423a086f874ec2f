-- Empty the rollups and the queues. TRUNCATE waits for the transactions writing to
-- the queue, so an order committed before it is read by the backfill (see
-- reset.sql, run next), one committed after it arrives through the queue.
TRUNCATE order_changes, sales_days, sales_product_days, sales_product_months,
         customer_activity, cohort_months, customer_window_sales, customer_region_changes
