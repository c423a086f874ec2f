-- Before a refresh: forget the last rates (readers keep seeing them until the
-- refresh commits).
DELETE FROM product_sales_rates
