"""Admin users: who may use the console and the reports."""
