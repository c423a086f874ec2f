-- The synthetic statement shapes' texts, each matched to one server queryid.
INSERT INTO db_statements (fingerprint, sql, queryids)
SELECT lpad(to_hex(s), 16, 'b'),
       'SELECT id, stock FROM products WHERE id = %(id_' || s || ')s', ARRAY[s::bigint]
FROM generate_series(1, :shapes) AS s
ON CONFLICT (fingerprint) DO NOTHING
