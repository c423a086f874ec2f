-- After a backfill: each batch's upserts left old row versions behind, and the
-- planner needs the new tables' sizes and distributions.
VACUUM (ANALYZE) sales_days, sales_product_days, sales_product_months, customer_activity,
                 cohort_months, customer_sales_windows, customer_window_sales
