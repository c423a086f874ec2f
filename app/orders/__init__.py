"""Orders and their lines."""
