-- Whether the seeded tables already hold data (cheap: stops at the first row).
SELECT EXISTS (SELECT 1 FROM customers) OR EXISTS (SELECT 1 FROM products)
    OR EXISTS (SELECT 1 FROM orders) AS has_rows
