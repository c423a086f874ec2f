-- Remember the server's queryids of a statement shape.
UPDATE db_statements SET queryids = :queryids WHERE fingerprint = :fingerprint
