"""Durable storage of sessions, captions (every language), revisions and tokens."""

from .sqlite import Store

__all__ = ["Store"]
