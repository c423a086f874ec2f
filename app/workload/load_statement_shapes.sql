-- The app's statement shapes, to link the load's statements (kept in their
-- comparable form) to their statement pages.
SELECT fingerprint, sql FROM db_statements
