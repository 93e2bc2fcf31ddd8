"""Widgets show what screens give them and post messages; they never touch the store."""
