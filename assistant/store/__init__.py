"""Durable storage of sessions, captions (every language), revisions, export translations and tokens."""

from .sqlite import CachedTranslation, CreatedVia, ScopedToken, Store

__all__ = ["CachedTranslation", "CreatedVia", "ScopedToken", "Store"]
