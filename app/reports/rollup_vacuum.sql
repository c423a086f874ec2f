-- After a backfill: each batch's upserts left old row versions behind, and the
-- planner needs the new tables' sizes and distributions (a report planned on empty
-- statistics probes the customers one by one).
VACUUM (ANALYZE) sales_days, sales_product_days, sales_product_months, sales_customer_days,
                 sales_customer_months, customer_activity
