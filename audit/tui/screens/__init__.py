"""Screens: each one calls the core (engine, store, tabulation) for what it shows."""
