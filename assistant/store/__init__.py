"""Durable storage of sessions, captions (every language), revisions and tokens."""

from .sqlite import CreatedVia, ScopedToken, Store

__all__ = ["CreatedVia", "ScopedToken", "Store"]
