"""The Transcriber interface and its faster-whisper implementation.

A :class:`Transcriber` answers one :class:`TranscriptionRequest` with a
:class:`Transcription`. The call blocks for the whole pass, so adapters run it
on the model's own executor thread, never on the event loop.
"""

from __future__ import annotations

import math
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol

from assistant.asr.cpu import PassMeter
from assistant.asr.heap import HeapKeeper
from assistant.asr.text import join_word_pieces
from assistant.asr.types import TranscribedSegment, Transcription, TranscriptionRequest
from assistant.pcm import SAMPLE_RATE
from assistant.captions import Word
from assistant.errors import LanguageError, ModelError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# Whisper's mel front end: 100 frames per second of audio, 3000 frames per 30 s window.
MEL_FRAMES_PER_S: Final = 100
MEL_FRAMES_MAX: Final = 3_000
# Silence margin the trimmed encoder keeps after the audio; below ~2 s Whisper starts
# repeating itself on short windows (measured: 1 s margin took WER 3.3% -> 13%).
ENCODER_MARGIN_MS: Final = 2_000
# Decoding budget per pass: a window of speech never needs more tokens than this,
# while a decoding loop would run to Whisper's 448-token limit (seconds of compute).
MAX_TOKENS_PER_S: Final = 10
MIN_NEW_TOKENS: Final = 16
MAX_NEW_TOKENS: Final = 200


class Transcriber(Protocol):
    """Runs one recognition pass (blocking; call it on a worker thread)."""

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        """Decode ``request.audio`` and return words with absolute times."""
        ...


def _trimmed_model_class() -> type:
    from faster_whisper import WhisperModel

    class TrimmedWhisperModel(WhisperModel):  # type: ignore[misc]
        """WhisperModel whose encoder sees only the audio plus a margin, not 30 s of padding.

        faster-whisper pads every window to 30 s of mel; the encoder's cost is
        proportional to its input, and CTranslate2 accepts shorter inputs, so a
        5 s window costs a third of a padded one. ``frames`` is set per call, per
        thread (passes may run side by side).
        """

        _per_thread = threading.local()

        @property
        def frames(self) -> int | None:
            return getattr(self._per_thread, "frames", None)

        @frames.setter
        def frames(self, value: int | None) -> None:
            self._per_thread.frames = value

        def encode(self, features: npt.NDArray[np.float32]) -> object:
            if self.frames is not None:
                features = features[..., : self.frames]
            return super().encode(features)

    return TrimmedWhisperModel


class FasterWhisperTranscriber:
    """faster-whisper decoding of one window, with word timestamps.

    The beam is the request's (``TranscriptionRequest.beam_size``), else
    ``beam_size``: the recogniser asks for beam 5 on the pass that closes an
    utterance, and on passes over moving words while recognition keeps up
    (greedy decoding otherwise; ``RecognizerSettings.beam_size``).

    ``passes``: decodes that may run at once, from as many threads, each on
    ``cpu_threads`` threads of its own (CTranslate2 replicas sharing the weights).

    ``trim_encoder`` shortens the encoder input to the window plus
    ``ENCODER_MARGIN_MS`` (about 3x cheaper on short windows). The temperature
    fallback ladder is off: a rejected decode is returned as is and the
    recogniser's guards judge it, since a fallback costs seconds.
    """

    def __init__(
        self,
        model_path: Path | str,
        *,
        compute_type: str = "int8",
        cpu_threads: int = 0,
        beam_size: int = 1,
        trim_encoder: bool = True,
        without_timestamps: bool = False,
        keep_heap: bool = True,
        passes: int = 1,
    ) -> None:
        threads = cpu_threads or os.cpu_count() or 1
        try:
            self._model = _trimmed_model_class()(
                str(model_path), device="cpu", compute_type=compute_type, cpu_threads=threads, num_workers=passes
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise ModelError(
                f"cannot load the Whisper model in {model_path}: {e}; "
                "check the folder with `assistant models` and reinstall with `assistant models install`"
            ) from e
        self._beam_size = beam_size
        self._trim = trim_encoder
        self._without_timestamps = without_timestamps
        self._slots = threading.BoundedSemaphore(passes)  # decodes at once on this model
        self.meter = PassMeter(threads)  # the cores its decodes side by side use (asr.cpu)
        # glibc allocator options and periodic malloc_trim: flat RSS over a long stream
        self._allocator = HeapKeeper() if keep_heap else None

    @property
    def multilingual(self) -> bool:
        return bool(self._model.model.is_multilingual)

    def _check(self, request: TranscriptionRequest) -> None:
        if self.multilingual:
            return
        if request.language not in (None, "en"):
            raise LanguageError(
                f"this Whisper model is English-only and cannot recognise '{request.language}'; "
                "use a multilingual model (--model base) for other languages",
                available=("en",),
            )
        if request.task == "translate":
            raise LanguageError(
                "this Whisper model is English-only and cannot translate; use --model base",
                available=("en",),
            )

    @contextmanager
    def _metered(self) -> Iterator[None]:
        self.meter.started()
        try:
            yield
        finally:
            self.meter.finished()

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        """Decode the window; faster-whisper's lazy segments are consumed here, on this thread."""
        self._check(request)
        offset_ms = request.start_sample * 1000 / SAMPLE_RATE
        started = time.perf_counter()
        with self._slots, self._metered():
            if self._trim:
                frames = len(request.audio) * MEL_FRAMES_PER_S / SAMPLE_RATE + ENCODER_MARGIN_MS / 1000 * MEL_FRAMES_PER_S
                self._model.frames = min(MEL_FRAMES_MAX, 2 * math.ceil(frames / 2))
            else:
                self._model.frames = None
            beam = request.beam_size or self._beam_size
            max_new = min(MAX_NEW_TOKENS, MIN_NEW_TOKENS + len(request.audio) * MAX_TOKENS_PER_S // SAMPLE_RATE)
            after_prefix = None
            if request.prefix and not self._without_timestamps and (request.language or not self.multilingual):
                after_prefix = self._decode_after_prefix(request, beam, max_new, offset_ms)
            if after_prefix is not None:
                decoded, language, language_probability = after_prefix
            else:
                segments, info = self._model.transcribe(
                    request.audio,
                    language=request.language,
                    task=request.task,
                    beam_size=beam,
                    best_of=1,
                    temperature=0.0,
                    condition_on_previous_text=False,
                    initial_prompt=request.prompt or None,
                    hotwords=" ".join(request.hotwords) or None,
                    word_timestamps=True,
                    without_timestamps=self._without_timestamps,
                    vad_filter=False,
                    max_new_tokens=max_new,
                )
                decoded = [
                    _segment(
                        offset_ms,
                        ((w.word, w.start, w.end, w.probability) for w in (seg.words or [])),
                        seg.start,
                        seg.end,
                        seg.no_speech_prob,
                        seg.avg_logprob,
                        seg.compression_ratio,
                    )
                    for seg in segments
                ]
                language, language_probability = str(info.language), float(info.language_probability)
            if self._allocator is not None:
                self._allocator.after_pass()
        return Transcription(
            start_sample=request.start_sample,
            end_sample=request.end_sample,
            segments=tuple(decoded),
            language=language,
            language_probability=language_probability,
            compute_ms=int((time.perf_counter() - started) * 1000),
        )

    def _decode_after_prefix(
        self, request: TranscriptionRequest, beam: int, max_new: int, offset_ms: float
    ) -> tuple[list[TranscribedSegment], str, float] | None:
        """Decode the window with the decoder forced through ``request.prefix`` (None: too long).

        Only what follows the prefix is searched (with ``beam``); the words it
        reads are not read again, differently, or in a loop. CTranslate2 steps
        through a forced prefix token by token, at about half the cost of a
        decoded token, so such a pass costs about what a full one does. Prefix
        and tail are aligned together over the window, as faster-whisper aligns
        one decoded window.
        """
        from faster_whisper.audio import pad_or_trim
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens

        fw = self._model
        language = request.language or "en"
        tokenizer = Tokenizer(fw.hf_tokenizer, self.multilingual, task=request.task, language=language)
        features = fw.feature_extractor(request.audio)
        frames = features.shape[-1] - 1
        encoder_output = fw.encode(pad_or_trim(features[:, :frames]))
        previous = [
            t for text in (" ".join(request.hotwords), request.prompt) if text.strip() for t in tokenizer.encode(" " + text.strip())
        ]
        # <|0.00|> and the prefix, left open: closed by a timestamp at its last word's end,
        # greedy passes mostly end there (measured: en-prompts WER 4.2% -> 19.3%).
        duration = frames * fw.feature_extractor.time_per_frame
        forced = [tokenizer.timestamp_begin, *tokenizer.encode(" " + "".join(w.text for w in request.prefix).strip())]
        if len(forced) >= fw.max_length // 2:
            return None  # no room left to decode after it: a full pass instead
        prompt = [*fw.get_prompt(tokenizer, previous), *forced]
        result = fw.model.generate(
            encoder_output,
            [prompt],
            beam_size=beam,
            num_hypotheses=beam,
            # ``prompt`` ends with the forced prefix, counted here a second time: up to ``max_new`` plus
            # the prefix's length after it. Capped at ``max_new`` after the prefix, the held-out replays
            # lost 1.3 points on Russian reading and 1.2 on Russian prompts (benchmarks/README.md, stop 26).
            max_length=min(fw.max_length, len(prompt) + max_new + len(forced)),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=False,
            suppress_tokens=get_suppressed_tokens(tokenizer, [-1]),
        )[0]
        # Each hypothesis is the prefix, then what was decoded after it. The beam's best is
        # often the prefix closed by a timestamp (its sure tokens make the short ending
        # score well); take the best that reads on, unless none does.
        best = next(
            (i for i, ids in enumerate(result.sequences_ids) if any(t < tokenizer.eot for t in ids[len(forced) :])), 0
        )
        tokens = list(result.sequences_ids[best])
        avg_logprob = result.scores[best] * len(tokens) / (len(tokens) + 1)
        text = tokenizer.decode([t for t in tokens if t < tokenizer.eot]).strip()
        compression_ratio = get_compression_ratio(text) if text else 1.0
        pieces = _split_at_timestamps(tokens, tokenizer.timestamp_begin, fw.time_precision, duration)
        fw.add_word_timestamps(
            [pieces], tokenizer, encoder_output, frames, "\"'“¿([{-", "\"'.。,，!！?？:：”)]}、", last_speech_timestamp=0.0
        )
        decoded = [
            _segment(
                offset_ms,
                ((w["word"], w["start"], w["end"], w["probability"]) for w in piece.get("words", [])),
                piece["start"],
                piece["end"],
                result.no_speech_prob,
                avg_logprob,
                compression_ratio,
            )
            for piece in pieces
        ]
        return decoded, language, 1.0


def _segment(
    offset_ms: float,
    words: Iterable[tuple[str, float, float, float]],
    start: float,
    end: float,
    no_speech_prob: float,
    avg_logprob: float,
    compression_ratio: float,
) -> TranscribedSegment:
    """A decoded segment (words as text, start and end seconds from the window's start,
    probability) in absolute milliseconds, the pieces of split words joined (``join_word_pieces``)."""
    return TranscribedSegment(
        words=tuple(join_word_pieces([
            Word(text, int(round(offset_ms + a * 1000)), int(round(offset_ms + b * 1000)), float(p))
            for text, a, b, p in words
        ])),
        start_ms=int(round(offset_ms + start * 1000)),
        end_ms=int(round(offset_ms + end * 1000)),
        no_speech_prob=float(no_speech_prob),
        avg_logprob=float(avg_logprob),
        compression_ratio=float(compression_ratio),
    )


def _split_at_timestamps(tokens: list[int], timestamp_begin: int, precision: float, duration: float) -> list[dict[str, Any]]:
    """Runs of text tokens between timestamp tokens, as faster-whisper's segment dicts
    (``seek``, ``start``, ``end``, ``tokens``); a run without a closing timestamp ends
    at ``duration``."""
    pieces: list[dict[str, Any]] = []
    start, run = 0.0, []
    for t in [*tokens, None]:
        if t is not None and t < timestamp_begin:
            run.append(t)
            continue
        at = duration if t is None else min(duration, (t - timestamp_begin) * precision)
        if run:
            pieces.append({"seek": 0, "start": start, "end": max(start, at), "tokens": run})
            run = []
        start = at
    return pieces

