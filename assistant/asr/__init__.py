"""Streaming speech recognition: a sans-I/O core, its model adapters and an asyncio runner.

Pipeline position: audio in -> **asr** -> captions -> translation -> hub -> clients.
``recognizer.StreamingRecognizer`` holds the policy; ``transcriber`` and ``vad``
wrap the models; ``runner`` drives it on asyncio; ``replay`` in virtual time;
``cpu`` watches the spare cores that passes side by side need.
"""

from assistant.asr.recognizer import StreamingRecognizer
from assistant.asr.scripted import ScriptedTranscriber, ScriptedUtterance, linear_cost, utterance
from assistant.asr.transcriber import FasterWhisperTranscriber, Transcriber
from assistant.asr.types import (
    FinalCaption,
    ClauseEnd,
    LagReport,
    LanguageDetected,
    PartialCaption,
    RecognizerEvent,
    RecognizerSettings,
    Task,
    TranscribedSegment,
    Transcription,
    TranscriptionRequest,
    VoiceActivity,
)
from assistant.asr.vad import EnergyVoiceDetector, SileroVoiceDetector, VoiceDetector

__all__ = [
    "EnergyVoiceDetector",
    "FasterWhisperTranscriber",
    "FinalCaption",
    "ClauseEnd",
    "LagReport",
    "LanguageDetected",
    "PartialCaption",
    "RecognizerEvent",
    "RecognizerSettings",
    "ScriptedTranscriber",
    "ScriptedUtterance",
    "SileroVoiceDetector",
    "StreamingRecognizer",
    "Task",
    "TranscribedSegment",
    "Transcriber",
    "Transcription",
    "TranscriptionRequest",
    "VoiceActivity",
    "VoiceDetector",
    "linear_cost",
    "utterance",
]
