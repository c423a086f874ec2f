-- Count the samples taken in a minute (the denominator of its average active sessions).
INSERT INTO db_history_load_samples AS s (bucket, samples)
VALUES (:bucket, :samples)
ON CONFLICT (bucket) DO UPDATE SET samples = s.samples + excluded.samples
