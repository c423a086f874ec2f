-- Continue a table's identity after the ids the seed loaded explicitly.
SELECT setval(pg_get_serial_sequence(%(table)s, 'id'), %(next_id)s, false)
