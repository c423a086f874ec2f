-- Lock a cancelled order's products in id order: the same discipline as placing
-- an order, so cancels and orders never deadlock on each other.
SELECT p.id
FROM products p
WHERE p.id IN (SELECT l.product_id FROM order_lines l WHERE l.order_id = :order_id)
ORDER BY p.id
FOR UPDATE OF p
