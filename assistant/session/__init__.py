"""The session core: one room's captions, languages and state, as plain Python (no I/O).

:class:`~assistant.session.core.SessionCore` takes recogniser events, chair
actions, reader joins and translation results, and queues effects (store this
caption, publish that frame, translate this text) that ``assistant.server.runtime``
carries out. Replays in tests drive it in virtual time.
"""

from .core import SessionCore
from .effects import (CaptionAdded, CaptionRevised, CloseAudio, Effect, FetchBacklog, Publish, ReadersChanged,
                      SessionChanged, StartEnglish, StopEnglish, Translate, Warn)
from .translations import TranslationJob

__all__ = ["SessionCore", "Effect", "CaptionAdded", "CaptionRevised", "CloseAudio", "FetchBacklog", "Publish",
           "ReadersChanged", "SessionChanged", "StartEnglish", "StopEnglish", "Translate", "TranslationJob", "Warn"]
