"""Durable storage of sessions, captions (every language), revisions, export translations and tokens."""

from .sqlite import CachedTranslation, Store

__all__ = ["CachedTranslation", "Store"]
