"""Textual widgets of the runyard app."""
