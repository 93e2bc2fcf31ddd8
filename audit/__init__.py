"""audit: case audits with a rubric engine."""

__version__ = "0.1.0"
