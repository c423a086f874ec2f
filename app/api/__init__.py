"""The JSON API for client software."""
