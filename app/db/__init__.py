"""Database plumbing: the embedded server, pool sizing and engine settings."""
