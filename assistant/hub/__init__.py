"""The caption bus: carries encoded frames from producers to every reader of a stream."""

from .bus import CaptionBus, Subscription, Topic
from .memory import MemoryBus

__all__ = ["CaptionBus", "MemoryBus", "Subscription", "Topic"]
