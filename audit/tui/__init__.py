"""The inspector's terminal UI: a thin Textual shell over the engine and the store.

Screens (``screens/``) call the core; widgets (``widgets/``) only show what they
are given and post messages. Nothing outside this package imports textual.
"""
