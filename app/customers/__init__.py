"""Customers who place orders."""
