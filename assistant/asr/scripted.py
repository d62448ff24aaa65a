"""A deterministic fake Transcriber driven by a script of timed words (tests, ``--dry-run``).

It answers like a real recogniser would for the window it is given: words
wholly inside the window come back with their times, a word cut by the
window's end comes back as a fragment (or not at all), words before the window
are gone. Segments carry the script's confidence figures, so hallucination
guards can be exercised. ``cost`` tells a virtual-time replay how long the pass
"took".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from assistant.asr.types import TranscribedSegment, Transcription, TranscriptionRequest
from assistant.captions import Word

# A word cut by the window end is heard (as a fragment) once this share of it is inside.
FRAGMENT_MIN_SHARE: Final = 0.5
FRAGMENT_PROBABILITY: Final = 0.4


@dataclass(frozen=True, slots=True)
class ScriptedUtterance:
    """Words (no leading spaces, absolute ms) that decode as one segment."""

    words: tuple[Word, ...]
    no_speech_prob: float = 0.02
    avg_logprob: float = -0.2
    compression_ratio: float = 1.4


def utterance(
    text: str,
    start_ms: int,
    *,
    word_ms: int = 300,
    gap_ms: int = 0,
    no_speech_prob: float = 0.02,
    avg_logprob: float = -0.2,
    compression_ratio: float = 1.4,
) -> ScriptedUtterance:
    """Script ``text`` as words of ``word_ms`` each, ``gap_ms`` apart, from ``start_ms``."""
    words = []
    t = start_ms
    for token in text.split():
        words.append(Word(token, t, t + word_ms))
        t += word_ms + gap_ms
    return ScriptedUtterance(tuple(words), no_speech_prob, avg_logprob, compression_ratio)


def linear_cost(base_ms: int, per_audio_s_ms: int) -> Callable[[TranscriptionRequest], int]:
    """A pass-cost model: ``base_ms`` plus ``per_audio_s_ms`` per second of window."""

    def cost(req: TranscriptionRequest) -> int:
        return base_ms + (req.end_ms - req.start_ms) * per_audio_s_ms // 1000

    return cost


class ScriptedTranscriber:
    """Transcriber fake: answers each window from the script; records every request."""

    def __init__(
        self,
        script: Sequence[ScriptedUtterance],
        *,
        language: str = "en",
        language_probability: float = 0.99,
        cost: Callable[[TranscriptionRequest], int] | None = None,
    ) -> None:
        self._script = tuple(script)
        self._language = language
        self._language_probability = language_probability
        self._cost = cost or (lambda req: 0)
        self.requests: list[TranscriptionRequest] = []

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        """Answer for the window [request.start_ms, request.end_ms)."""
        self.requests.append(request)
        lo, hi = request.start_ms, request.end_ms
        segments = []
        for utt in self._script:
            words = []
            for w in utt.words:
                if w.start_ms < lo or w.start_ms >= hi:
                    continue
                if w.end_ms <= hi:
                    words.append(Word(" " + w.text, w.start_ms, w.end_ms, w.probability))
                    continue
                share = (hi - w.start_ms) / max(1, w.end_ms - w.start_ms)
                if share >= FRAGMENT_MIN_SHARE:
                    fragment = w.text[: max(1, math.ceil(len(w.text) * share) - 1)]
                    words.append(Word(" " + fragment, w.start_ms, hi, FRAGMENT_PROBABILITY))
            if words:
                segments.append(
                    TranscribedSegment(
                        words=tuple(words),
                        start_ms=words[0].start_ms,
                        end_ms=words[-1].end_ms,
                        no_speech_prob=utt.no_speech_prob,
                        avg_logprob=utt.avg_logprob,
                        compression_ratio=utt.compression_ratio,
                    )
                )
        language = "en" if request.task == "translate" else (request.language or self._language)
        return Transcription(
            start_sample=request.start_sample,
            end_sample=request.end_sample,
            segments=tuple(segments),
            language=language,
            language_probability=self._language_probability,
            compute_ms=self._cost(request),
        )
