"""Errors the tracker raises on purpose: each carries one clear sentence for the user."""


class TrackerError(Exception):
    """Base class of runyard's own errors."""


class ConfigError(TrackerError, ValueError):
    """A config cannot be read or holds a value that cannot be stored; the message names the key."""


class RunError(TrackerError):
    """A run cannot be created, resumed or written as asked."""
