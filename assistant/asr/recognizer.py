"""The sans-I/O streaming recogniser: audio and VAD in, recognition requests out, captions back.

One :class:`StreamingRecognizer` per audio stream. It never awaits, sleeps,
reads a clock or touches a model; an adapter (``runner.py``, or a virtual-time
replay) drives it::

    rec.receive_audio(chunk)                  # float32 16 kHz mono, any length
    rec.receive_voice_activity(activity)      # VAD output for audio already received
    req = rec.transcription_due()             # a pass to run now, or None
    rec.receive_transcription(transcriber.transcribe(req))
    for event in rec.events_received(): ...   # FinalCaption, PartialCaption, LagReport, ...
    rec.end_of_stream()                       # then keep pulling until rec.done

Policy, in short: passes run over the current utterance's audio (from its
VAD onset) whenever >= ``min_step_ms`` of new speech arrived and no pass is
running (with ``passes_in_flight`` 2, while recognition keeps up and a core is
spare (:meth:`StreamingRecognizer.receive_spare_cores`), every
``min_step_ms / 2`` while the pass before still decodes, answers taken in order).
LocalAgreement-2 commits words two hypotheses a step apart agree on;
words re-decoded from audio already committed are skipped (by time, by
matching the committed tail, or as the last word over the same time, spelt otherwise). A VAD pause of ``endpoint_silence_ms`` closes
the utterance at once from the pass that already covered its end (or one last
pass). Committed words form captions closed at sentence ends, clauses, pauses
or phone-size limits (a fragment shorter than ``caption_min_chars`` before a
pause is held open for the next words instead); the window keeps the utterance's start for context and
is trimmed only past ``trim_window_ms``, at a caption end at least
``trim_min_age_ms`` old, and is capped at ``max_window_ms``; its ``context_ms``
of context starts between two words, never inside one. The prompt is the
captioned text before the window.
Silence is never decoded; hallucinations and loops are filtered (a pass that
fell into a loop over speech the pass before had read leaves that hypothesis
in place, a looped pass never closes an utterance, and the utterance's later
passes decode after their window's committed words, forced as a prefix; a moving
pass that read almost none of seconds of new speech is deaf: it neither replaces the
last hypothesis nor closes the utterance, though the words it agrees on with that
hypothesis commit, and after two such passes a window that starts with context reads
on without it, ``deaf_speech_ms``; a closing pass that ended its decode early, with
speech unread before the pause, is run once more, forced through what it read,
``unread_speech_ms``); when passes
fall behind, commits need one hypothesis only, every pass decodes with beam 1,
and passes catch up in steps of at most ``max_backlog_ms`` of new audio (the
lag is reported, no audio is dropped). Moving passes decode with ``beam_size``,
unprompted, while recognition keeps up (greedily, with the prompt, otherwise); the
pass that closes an utterance decodes with ``final_beam_size`` and the prompt.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Final

import numpy as np

from assistant.asr.text import (
    collapse_repeats,
    drop_crammed_copies,
    common_prefix_length,
    drop_stacked,
    ends_clause,
    ends_sentence,
    is_known_hallucination,
    is_sound_annotation,
    join_words,
    normalize,
    similar_word,
    strip_word,
    text_width,
)
from assistant.asr.window import AudioWindow
from assistant.asr.types import (
    ClauseEnd,
    FinalCaption,
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
from assistant.captions import Word
from assistant.errors import AudioFormatError
from assistant.pcm import AudioArray, ms_to_samples, samples_to_ms

# A re-recognised word is "new" when its midpoint lies after the committed end, less
# this. The midpoint, not the start: after a pause Whisper's aligner often starts the
# first new word right after the last old one, stretched over the silence.
RECOMMIT_TOLERANCE_MS: Final = 100
# A new word sharing this much of its time with the last committed word (intersection over
# union) is that word decoded again, whatever its spelling ("3" at 20.02-20.24 s, then
# "tres" at 20.04-20.28 s); the next word rarely shares half its time with the last.
REDECODED_MIN_OVERLAP: Final = 0.6
# Hypothesis words starting within this of the committed end, or of the window's
# start (where Whisper echoes the prompt's tail), are checked against the committed
# tail for repeats (whisper_streaming's n-gram de-duplication).
DEDUP_WINDOW_MS: Final = 1_000
WINDOW_HEAD_MS: Final = 1_500
DEDUP_MAX_NGRAM: Final = 5
# A pass must cover this much audio past an utterance's last speech to finalise it.
ENDPOINT_COVER_MS: Final = 250
# Words with no VAD speech within this distance are silence hallucinations.
WORD_SPEECH_MARGIN_MS: Final = 300
# A word starting this far inside a VAD pause, and ending in it this far before the next
# onset (at any time in a pause the VAD has not heard the end of), is not speech.
PAUSE_WORD_MARGIN_MS: Final = 150
# A word is trimmed to the VAD speech it overlaps, give or take this.
SPEECH_SLACK_MS: Final = 120
# A closing pass that leaves this much speech without words stopped short (see _with_words_it_missed).
MISSED_SPEECH_MS: Final = 200
MISSED_WORD_SPEECH_SHARE: Final = 0.5
# ... or stretched a word the last hypothesis had too (within this of the same start) at least this
# much past where that hypothesis ended it: the words the hypothesis read there are looked for too.
STRETCH_START_MS: Final = 150
STRETCH_MIN_MS: Final = 300
# Two passes do not agree on a word the newer one starts this much earlier, over speech the older
# one read no word in (see _agreed_in_time).
PULLED_BACK_MS: Final = 300
# An unsure word said faster than this (letters per second), or mostly outside VAD
# speech and ending in a pause, is a filler (RecognizerSettings.filler_max_probability).
FILLER_MAX_CHARS_PER_S: Final = 40
FILLER_MIN_SPEECH_SHARE: Final = 0.5
# "Ending in a pause": this much silence before the word's end ("monos No," where the
# aligner gave "No," 160 ms, 44 of them speech).
FILLER_END_SILENCE_MS: Final = 60
# An unsure word this short where a pause begins ("представителя. Я." in 80 ms, p 0.11;
# "звонке. Я.", "тьме. Да.", "льды три") is the word before heard once more as it faded.
FILLER_MAX_MS: Final = 120
# Known stock phrases survive only with clear speech evidence.
HALLUCINATION_MAX_NO_SPEECH: Final = 0.2
HALLUCINATION_MIN_LOGPROB: Final = -0.6
HALLUCINATION_MIN_SPEECH_SHARE: Final = 0.5
# Deaf moving passes in a row (RecognizerSettings.deaf_speech_ms) after which a window drops its
# context: one alone may be a pass that had not reached the new words yet, and a window without
# context reads its first word cold ("prämeri" for "premere", carried on by the prompt).
DEAF_PASSES: Final = 2
# Closed captions remembered for building the prompt; committed words remembered
# (de-duplication, where the window's context may start).
PROMPT_CAPTIONS: Final = 16
COMMITTED_WORDS: Final = 64
# A pass starts beside another (passes_in_flight) only while this much of a core was spare lately.
SPARE_CORES_MIN: Final = 0.85


class StreamingRecognizer:
    """The streaming ASR state machine for one audio stream (see module docstring)."""

    def __init__(
        self,
        settings: RecognizerSettings | None = None,
        *,
        language: str | None = None,
        task: Task = "transcribe",
        hotwords: tuple[str, ...] = (),
    ) -> None:
        self._s = settings or RecognizerSettings()
        self._language = language
        self._auto_language = language is None
        self._language_passes = 0
        self._task: Task = task
        self._hotwords = hotwords
        # Audio from _buf_start to _received (absolute samples). Everything before
        # _settled is finalised; _buf_start <= _settled keeps some left context.
        self._window = AudioWindow()
        self._buf_start = 0
        self._settled = 0
        self._received = 0
        # VAD: closed speech intervals plus an open one while in speech.
        self._vad_until = 0
        self._in_speech = False
        self._speech_start = 0
        self._speech: list[tuple[int, int]] = []
        # Recognition state.
        # Requests out (oldest first; more than one with settings.passes_in_flight > 1).
        self._in_flight: deque[TranscriptionRequest] = deque()
        self._lag = 0  # samples between the last pass's end and the audio received then
        # Cores the machine had spare lately (receive_spare_cores); until told, as many as the
        # passes side by side need (the virtual replay gives each pass a core).
        self._spare_cores = math.inf
        self._last_pass_end = 0
        self._hyp: list[Word] = []
        self._hyp_window_end = 0
        self._hyp_beam = 1  # the beam of the pass that read _hyp
        # Recent hypotheses (window end, words), newest last: with passes in flight side by
        # side, a hypothesis agrees with one heard a step before it (see _partner).
        self._hyps: deque[tuple[int, list[Word]]] = deque(maxlen=4)
        self._caption: list[Word] = []
        # Pieces (settings.final_pieces): words of the open caption before this index were
        # emitted already; _clause_open: a piece was emitted since the last clause end.
        self._piece_from = 0
        self._clause_open = False
        # The open caption is a fragment held across a pause, which ended at this sample.
        self._held_since: int | None = None
        # Where the caption's time limit counts from: its first word, or the first after a hold.
        self._caption_clock_ms = 0
        self._committed_end_ms = 0
        self._committed: deque[Word] = deque(maxlen=COMMITTED_WORDS)
        self._last_final_end_ms = 0
        # Closed captions (end sample, text): the prompt is those before the window.
        self._closed: deque[tuple[int, str]] = deque(maxlen=PROMPT_CAPTIONS)
        # Samples between closed captions inside the window where it may be trimmed.
        self._boundaries: list[int] = []
        self._partial: tuple[str, str] = ("", "")
        # A pass of the open utterance fell into a loop (settings.prefix_after_loop).
        self._looping = False
        # Its closing pass stopped short and is run once more (settings.unread_speech_ms).
        self._reread = False
        self._deaf_passes = 0  # moving passes in a row that were deaf (settings.deaf_speech_ms)
        self._ended = False
        self._done = False
        self._events: list[RecognizerEvent] = []

    # ---- input verbs -------------------------------------------------------

    def receive_audio(self, samples: AudioArray) -> None:
        """Append float32 16 kHz mono samples (any length) to the stream."""
        if self._ended:
            raise AudioFormatError("audio arrived after end_of_stream(); start a new recogniser")
        if samples.ndim != 1 or samples.dtype != np.float32:
            raise AudioFormatError(
                f"expected 1-D float32 samples at 16 kHz, got {samples.ndim}-D {samples.dtype}; "
                "convert with assistant.audio before feeding the recogniser"
            )
        if len(samples):
            self._window.append(samples, in_use=bool(self._in_flight))
            self._received += len(samples)
            if not self._s.use_vad:
                self._vad_until = self._received

    def receive_voice_activity(self, activity: VoiceActivity) -> None:
        """Push VAD speech probabilities for audio already received (in stream order)."""
        if not self._s.use_vad:
            return
        for i, p in enumerate(activity.probabilities):
            frame_start = activity.start_sample + i * activity.frame_samples
            frame_end = frame_start + activity.frame_samples
            if frame_end <= self._vad_until:
                continue
            if not self._in_speech and p >= self._s.speech_threshold:
                self._in_speech, self._speech_start = True, frame_start
            elif self._in_speech and p < self._s.silence_threshold:
                self._in_speech = False
                self._speech.append((self._speech_start, frame_start))
            self._vad_until = frame_end

    def receive_spare_cores(self, cores: float) -> None:
        """Push the cores the machine had spare lately, counting those the model's passes beyond
        the first used (``assistant.asr.cpu``). With ``passes_in_flight`` > 1 a pass starts beside
        another only while at least :data:`SPARE_CORES_MIN` is spare."""
        self._spare_cores = cores

    def end_of_stream(self) -> None:
        """No more audio: the remaining speech is finalised by the next passes."""
        self._ended = True
        if self._in_speech:
            self._in_speech = False
            self._speech.append((self._speech_start, self._vad_until))
        self._vad_until = self._received

    # ---- output verbs ------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the stream ended and every word was finalised."""
        return self._done

    def events_received(self) -> list[RecognizerEvent]:
        """Drain the events produced since the last call, in order."""
        events, self._events = self._events, []
        return events

    def transcription_due(self) -> TranscriptionRequest | None:
        """The pass to run now, or None; call after every input and after every result."""
        if self._done or len(self._in_flight) >= self._s.passes_in_flight:
            return None
        self._cap_window()
        gap = self._pending_endpoint()
        if gap is not None and self._covers(gap, self._hyp_window_end):
            # The latest pass already saw the whole utterance and its trailing silence:
            # finalise from it, or (refine_at_pause) run the closing pass with the beam
            # over its words still moving, unless recognition is behind.
            refine = self._s.refine_at_pause and self._hyp and self._s.final_beam_size > self._hyp_beam
            if (not refine or self._behind()) and not self._left_unread(self._hyp, gap):
                self._finalise_at(gap, self._hyp, self._hyp_window_end)
                self._update_partial()
                gap = self._pending_endpoint()
        self._close_held_after_silence()
        self._drop_silence()
        if self._in_flight:
            return None if gap is not None else self._overlapping_pass()
        pending = bool(self._hyp or self._open_caption())
        speech = self._has_speech(self._settled, self._vad_until)
        if self._received <= self._settled or not (pending or speech):
            if self._ended:
                self._done = True
            return None
        if gap is not None:
            # One last pass over the utterance and its pause, not the speech after it.
            return self._request(final=True, end=min(self._received, gap[1]))
        if self._ended:
            return self._request(final=True)
        first_new = max(self._last_pass_end, self._settled + ms_to_samples(self._s.preroll_ms))
        if self._received - first_new < ms_to_samples(self._s.min_step_ms):
            return None
        if pending or self._has_speech(self._last_pass_end, self._vad_until) or self._vad_until < self._received - ms_to_samples(self._s.min_step_ms):
            return self._request(final=False)
        return None

    def receive_transcription(self, result: Transcription) -> None:
        """Take the answer to the oldest request :meth:`transcription_due` returned (answers come in order)."""
        req = self._in_flight[0] if self._in_flight else None
        if req is None or (result.start_sample, result.end_sample) != (req.start_sample, req.end_sample):
            raise ValueError("receive_transcription() got a result for a request that is not in flight"
                             " (or not the oldest one)")
        self._in_flight.popleft()
        lag = self._received - req.end_sample
        self._lag = lag
        self._events.append(LagReport(samples_to_ms(lag)))
        words, decoded = self._clean(result, req)
        if words:
            self._settle_language(result)
        gap = self._endpoint_within(req)
        if gap is None and self._ended and req.final and req.end_sample == self._received:
            gap = (req.end_sample, req.end_sample)
        looped = self._looped(result)
        self._looping = self._looping or looped
        deaf = self._deaf(words, req)
        self._deaf_passes = self._deaf_passes + 1 if deaf else 0
        if gap is not None and not deaf:
            words = self._with_words_it_missed(words, decoded, gap[0])
            if self._left_unread(words, gap):
                self._read_the_rest_again(words)
            else:
                self._finalise_at(gap, words, req.end_sample)
        elif deaf:
            # A moving pass that read (almost) none of seconds of new speech neither replaces the
            # last hypothesis nor closes the utterance (a closing pass decodes it again). Where
            # the window starts with context, and the pass before was deaf too, Whisper reads the
            # context and stops short of the new speech: the window reads on without it. What
            # it did read still counts where the last hypothesis read the same.
            self._commit_what_a_deaf_pass_agrees(words, req)
            if self._deaf_passes >= DEAF_PASSES and self._buf_start < self._settled:
                self._trim_to(self._settled)
        elif looped and self._lost_to_a_loop(words):
            # A pass that fell into a loop over speech the pass before had read ("I'm going
            # to start with the first item." forty times) does not replace that hypothesis:
            # the next pass agrees with the last one that heard the speech.
            pass
        else:
            if samples_to_ms(lag) > self._s.degrade_lag_ms:
                limit = req.end_ms - self._s.unstable_tail_ms
                n = next((i for i, w in enumerate(words) if w.end_ms > limit), len(words))
            else:
                # The newest hypothesis's last word is never committed by agreement: its
                # punctuation is Whisper's guess at a window edge (pauses finalise it instead).
                partner = self._partner(req)
                n = self._agreed_in_time(min(common_prefix_length(partner, words), len(words) - 1), words, partner)
                # ... nor words ending this close to its window's end (the audio cuts them short).
                edge = req.end_ms - self._s.agreement_tail_ms
                while n > 0 and words[n - 1].end_ms > edge:
                    n -= 1
                if self._s.settle_after_ms:
                    # ... but words this pass heard long before its window's end settle unagreed,
                    # also where it looped after them (past its audio: it kept the speech's words).
                    heard = req.end_ms - self._s.settle_after_ms
                    while n < len(words) - 1 and words[n].end_ms <= heard:
                        n += 1
            self._commit(words[:n])
            # A looped hypothesis never closes an utterance ("I'm" stretched over the speech a
            # loop replaced): its window is not taken as covered, a closing pass decodes it again.
            self._hyp, self._hyp_window_end = words[n:], 0 if looped else req.end_sample
            self._hyp_beam = req.beam_size or 1
            self._hyps.append((req.end_sample, self._hyp))
        self._settle_after_caption()
        self._update_partial()

    # ---- VAD bookkeeping ---------------------------------------------------

    def _intervals(self) -> list[tuple[int, int]]:
        if self._in_speech:
            return [*self._speech, (self._speech_start, self._vad_until)]
        return self._speech

    def _has_speech(self, a: int, b: int) -> bool:
        if not self._s.use_vad:
            return b > a
        return any(s < b and e > a for s, e in self._intervals())

    def _speech_share(self, a: int, b: int) -> float:
        if not self._s.use_vad or b <= a:
            return 1.0
        overlap = sum(max(0, min(e, b) - max(s, a)) for s, e in self._intervals())
        return overlap / (b - a)

    def _speech_samples(self, a: int, b: int) -> float:
        """How much of ``a``..``b`` (samples) the VAD heard as speech, in samples (0 when empty)."""
        return self._speech_share(a, b) * (b - a) if b > a else 0.0

    def _gaps(self) -> list[tuple[int, int]]:
        """Pauses of at least ``endpoint_silence_ms`` after speech (start, end samples)."""
        if not self._s.use_vad:
            return []
        spans = self._intervals()
        ends = [(e, nxt[0]) for (_, e), nxt in zip(spans, spans[1:])]
        if spans and not self._in_speech:
            ends.append((spans[-1][1], self._vad_until))
        need = ms_to_samples(self._s.endpoint_silence_ms)
        return [(a, b) for a, b in ends if b - a >= need]

    def _pending_endpoint(self) -> tuple[int, int] | None:
        """The first pause after speech that is not finalised yet, as (speech end, next onset)."""
        gaps = [(a, b) for a, b in self._gaps() if a > self._settled]
        return gaps[0] if gaps else None

    def _covers(self, gap: tuple[int, int], window_end: int) -> bool:
        """Whether a window ending at ``window_end`` saw the utterance end and only silence after."""
        return gap[0] + ms_to_samples(ENDPOINT_COVER_MS) <= window_end <= gap[1]

    def _endpoint_within(self, req: TranscriptionRequest) -> tuple[int, int] | None:
        gap = self._pending_endpoint()
        return gap if gap is not None and req.start_sample < gap[0] and self._covers(gap, req.end_sample) else None

    # ---- hypotheses --------------------------------------------------------

    def _plausible(self, seg: TranscribedSegment) -> bool:
        s = self._s
        if seg.no_speech_prob > s.no_speech_threshold and seg.avg_logprob < s.logprob_threshold:
            return False
        if seg.compression_ratio > s.compression_ratio_threshold and seg.avg_logprob < s.logprob_threshold:
            return False  # an unsure decoding loop; a confident one is collapsed instead
        if seg.avg_logprob < s.logprob_threshold and all(w.probability < s.filler_max_probability for w in seg.words):
            return False  # unsure as a whole and of every word: a guess ("и." "И." after the last word)
        if is_known_hallucination(seg.text) or is_sound_annotation(seg.text):
            share = self._speech_share(ms_to_samples(seg.start_ms), ms_to_samples(seg.end_ms))
            return (
                seg.no_speech_prob <= HALLUCINATION_MAX_NO_SPEECH
                and seg.avg_logprob >= HALLUCINATION_MIN_LOGPROB
                and share >= HALLUCINATION_MIN_SPEECH_SHARE
            )
        return True

    def _looped(self, result: Transcription) -> bool:
        """Whether a segment of the pass repeats itself beyond ``compression_ratio_threshold``
        (Whisper's own failure test, where it would decode again, warmer)."""
        return any(seg.compression_ratio > self._s.compression_ratio_threshold for seg in result.segments)

    def _lost_to_a_loop(self, words: list[Word]) -> bool:
        """Whether a looped pass kept under half of the words the last hypothesis heard in its
        span (a loop at the window's end, past the speech, leaves a usable hypothesis)."""
        if not self._hyp:
            return False
        a, b = self._hyp[0].start_ms, self._hyp[-1].end_ms
        kept = sum(1 for w in words if a <= (w.start_ms + w.end_ms) // 2 <= b)
        return 2 * kept < len(self._hyp)

    def _deaf(self, words: list[Word], req: TranscriptionRequest) -> bool:
        """Whether a moving pass read under a third of the speech after the committed words, with at
        least ``deaf_speech_ms`` of it (see ``RecognizerSettings``)."""
        if not self._s.deaf_speech_ms or not self._s.use_vad or req.final:
            return False
        a = max(self._settled, ms_to_samples(self._committed_end_ms))
        b = min(req.end_sample, self._vad_until)
        speech = self._speech_samples(a, b)
        if speech < ms_to_samples(self._s.deaf_speech_ms):
            return False
        heard = sum(max(0, min(ms_to_samples(w.end_ms), b) - max(ms_to_samples(w.start_ms), a)) for w in words)
        return 3 * heard < speech

    def _commit_what_a_deaf_pass_agrees(self, words: list[Word], req: TranscriptionRequest) -> None:
        """Commit the words a deaf pass read as the last hypothesis did, up to the last one that
        hypothesis read on past (its own last word is its guess at the window's edge); the rest
        of the hypothesis stays for the next pass to agree with."""
        partner = self._partner(req)
        n = self._agreed_in_time(common_prefix_length(partner, words), words, partner)
        read_on_to = max((h.start_ms for h in partner), default=0)
        while n > 0 and read_on_to < words[n - 1].end_ms:
            n -= 1
        if n:
            self._commit(words[:n])
            self._hyp = [w for w in self._hyp if (w.start_ms + w.end_ms) // 2 > self._committed_end_ms]

    def _agreed_in_time(self, n: int, words: list[Word], partner: list[Word]) -> int:
        """The first ``n`` words, agreed by text, up to one this pass pulled back over speech that
        the hypothesis it agrees with (``partner``) had no word for: "Giving" at 78.53 s over an
        unread "your head", where the pass before had it at 79.07 s after the same hole. Such a
        word is not agreed yet."""
        prev_end = self._committed_end_ms
        for i, (h, w) in enumerate(zip(partner[:n], words[:n])):
            if (w.start_ms < h.start_ms - PULLED_BACK_MS and normalize(h.text) == normalize(w.text)
                    and self._speech_samples(ms_to_samples(prev_end), ms_to_samples(h.start_ms))
                    >= ms_to_samples(MISSED_SPEECH_MS)):
                return i
            prev_end = max(prev_end, h.end_ms)
        return n

    def _word_has_speech(self, w: Word) -> bool:
        margin = ms_to_samples(WORD_SPEECH_MARGIN_MS)
        a, b = ms_to_samples(w.start_ms) - margin, ms_to_samples(w.end_ms) + margin
        if b <= self._vad_until and not self._has_speech(a, b):
            return False
        # A word that starts well inside a pause ("спасибо", "again" after the last
        # word of an utterance) is Whisper filling the silence; unless it runs on to the
        # next onset: that is speech too quiet for the VAD ("К" of "решетка. К сожалению").
        start, end = ms_to_samples(w.start_ms), ms_to_samples(w.end_ms)
        inside = ms_to_samples(PAUSE_WORD_MARGIN_MS)
        return not any(g0 + inside <= start and end + (inside if g1 < self._vad_until else 0) <= g1
                       for g0, g1 in self._gaps())

    def _filler(self, w: Word) -> bool:
        """Whether ``w`` is a word Whisper was unsure of and that was hardly said (see ``filler_max_probability``)."""
        if w.probability >= self._s.filler_max_probability:
            return False
        letters = len(normalize(w.text).replace(" ", ""))
        if letters * 1_000 > FILLER_MAX_CHARS_PER_S * max(1, w.end_ms - w.start_ms):
            return True
        start, end = ms_to_samples(w.start_ms), ms_to_samples(w.end_ms)
        if w.end_ms - w.start_ms <= FILLER_MAX_MS and self._pause_at(start, end):
            return True
        # Mostly outside speech and running on into the silence after it (a word cut at
        # the speech onset, where VAD starts late, ends in speech and is kept).
        trailing = end <= self._vad_until and not self._has_speech(end - ms_to_samples(FILLER_END_SILENCE_MS), end)
        return trailing and self._speech_share(start, end) < FILLER_MIN_SPEECH_SHARE

    def _pause_at(self, start: int, end: int) -> bool:
        """Whether a pause (``endpoint_silence_ms`` or more) begins at ``start``..``end``, give or take ``PAUSE_WORD_MARGIN_MS``."""
        margin = ms_to_samples(PAUSE_WORD_MARGIN_MS)
        return any(start - margin <= g0 <= end + margin for g0, _ in self._gaps())

    def _fit_to_speech(self, w: Word) -> Word:
        """Trim a word the aligner stretched over a pause to the speech inside it.

        "ask not ... what" comes back as "what" from 4.7 to 5.7 s when it was
        said from 5.4 s: left long, it would hide the next word behind the
        committed end, and give captions times that include the silence.
        """
        if not self._s.use_vad:
            return w
        a, b = ms_to_samples(w.start_ms), ms_to_samples(w.end_ms)
        slack = ms_to_samples(SPEECH_SLACK_MS)
        overlapping = [(s, e) for s, e in self._intervals() if min(e, b) - max(s, a) > slack]
        if not overlapping or b > self._vad_until:
            return w
        start = max(a, overlapping[0][0] - slack)
        end = min(b, overlapping[-1][1] + slack)
        if (start, end) == (a, b):
            return w
        return Word(w.text, samples_to_ms(start), samples_to_ms(max(start, end)), w.probability)

    def _clean(self, result: Transcription, req: TranscriptionRequest) -> tuple[list[Word], list[Word]]:
        """The pass's new words, and all it decoded before repeats were collapsed (see _with_words_it_missed)."""
        words: list[Word] = []
        for seg in result.segments:
            if self._plausible(seg):
                for w in seg.words:
                    start = min(max(w.start_ms, req.start_ms), req.end_ms)
                    end = min(max(w.end_ms, start), req.end_ms)
                    if w.text.strip():
                        words.append(Word(w.text, start, end, w.probability))
        # Crammed copies first: loop removal keeps a loop's last (crammed) copy.
        decoded = drop_crammed_copies(words)
        words = drop_stacked(collapse_repeats(decoded))
        words = [self._fit_to_speech(w) for w in words if self._word_has_speech(w) and not self._filler(w)]
        heard = words
        words = self._after_committed_tail(words)
        words = [w for w in words if (w.start_ms + w.end_ms) // 2 >= self._committed_end_ms - RECOMMIT_TOLERANCE_MS]
        if words and self._committed and _time_overlap(words[0], self._committed[-1]) >= REDECODED_MIN_OVERLAP:
            words = words[1:]  # the last committed word again, spelt otherwise ("3" then "tres")
        head_end = max(self._committed_end_ms + DEDUP_WINDOW_MS, req.start_ms + WINDOW_HEAD_MS)
        if words and words[0].start_ms < head_end:
            recent = self._committed_tail()
            # Where the new words start in what this pass heard: a speaker's own repetition
            # ("words words | words words") has the committed copy right before it there too.
            at = next(i for i, w in enumerate(heard) if w is words[0])
            for n in range(min(len(recent), len(words)), 0, -1):
                if all(similar_word(a, normalize(w.text)) for a, w in zip(recent[-n:], words[:n])):
                    said_twice = at >= n and [normalize(w.text) for w in heard[at - n : at]] == recent[-n:]
                    if not said_twice:
                        words = words[n:]
                    break
        return words, decoded

    def _after_committed_tail(self, words: list[Word]) -> list[Word]:
        """Drop a re-decoding of the committed tail and everything before it.

        Times alone miss it when the aligner stretches a re-decoded word over a
        pause ("Americans." again as "america", 1.7–3.3 s): find the last two to
        five committed words again, starting before the committed end, and keep
        only what follows them.
        """
        tail = self._committed_tail()
        for n in range(len(tail), 1, -1):
            for k, first in enumerate(words[: len(words) - n + 1]):
                if first.start_ms >= self._committed_end_ms:
                    break
                if all(similar_word(a, normalize(w.text)) for a, w in zip(tail[-n:], words[k : k + n])):
                    return words[k + n :]
        return words

    def _settle_language(self, result: Transcription) -> None:
        if not self._auto_language or self._language is not None:
            return
        self._language_passes += 1
        if result.language_probability >= self._s.language_lock_probability or self._language_passes >= self._s.language_max_passes:
            self._language = result.language
            self._events.append(LanguageDetected(result.language, result.language_probability))

    # ---- commits and captions ----------------------------------------------

    def _commit(self, words: list[Word], *, before_pause: bool = False) -> None:
        """Add committed words to captions; ``before_pause``: the caller closes (or holds) the last one."""
        s = self._s
        for i, w in enumerate(words):
            # Words from different passes may overlap by a few ms; keep times monotonic.
            start = max(w.start_ms, self._committed_end_ms)
            w = Word(w.text, start, max(w.end_ms, start), w.probability)
            if self._caption:
                # A pause closes the caption, unless it holds a mere fragment ("So I,"):
                # then the next words join it, and its time limit counts from them.
                paused = w.start_ms - self._caption[-1].end_ms >= s.caption_pause_ms
                paused = paused or self._held_since is not None
                self._held_since = None
                too_long = text_width(join_words([*self._caption, w])) > s.caption_max_chars
                if too_long or (paused and not self._is_fragment()):
                    self._close_caption()
                elif paused:
                    self._caption_clock_ms = w.start_ms
            if not self._caption:
                self._caption_clock_ms = w.start_ms
            self._caption.append(w)
            self._committed.append(w)
            self._committed_end_ms = max(self._committed_end_ms, w.end_ms)
            chars = text_width(join_words(self._caption))
            if before_pause and i == len(words) - 1:
                return  # the caller closes the caption, holds it, or emits the piece
            if (
                ends_sentence(w)
                or (ends_clause(w) and chars >= s.clause_min_chars)
                or chars >= s.caption_max_chars
                or w.end_ms - self._caption_clock_ms >= s.caption_max_ms
            ):
                self._close_caption()
            elif ends_clause(w):
                self._emit_piece()  # a short clause: a piece of its own, the line stays open
        self._emit_piece()

    def _is_fragment(self) -> bool:
        """Whether the open caption is too short to stand as a line. A full stop does not
        save it: before a pause, Whisper ends whatever it heard with one ("Ask not.")."""
        return 0 < text_width(join_words(self._caption)) < self._s.caption_min_chars

    def _open_caption(self) -> bool:
        """Whether committed words wait in a caption that is not just a held fragment."""
        return bool(self._caption) and self._held_since is None

    def _close_held_after_silence(self) -> None:
        """Close a held fragment once the pause after it outlasts ``caption_hold_ms`` (or the stream ended)."""
        if self._held_since is None:
            return
        silent_for = self._vad_until - self._held_since
        if self._ended or (silent_for >= ms_to_samples(self._s.caption_hold_ms)
                           and not self._has_speech(self._held_since, self._vad_until)):
            self._close_caption()
            self._update_partial()

    def _final_language(self) -> str:
        return "en" if self._task == "translate" else (self._language or "und")

    def _emit_piece(self, *, closes: bool = False) -> None:
        """Emit the open caption's words not emitted yet as one FinalCaption piece (pieces on).

        ``closes``: the line closes with this piece. Otherwise the piece ends a clause
        when its last word does. A line closed with nothing new to emit ends its clause
        with a :class:`ClauseEnd` instead.
        """
        if not self._s.final_pieces:
            return
        new = self._caption[self._piece_from :]
        if not new:
            if closes and self._clause_open:
                self._events.append(ClauseEnd(self._caption[-1].end_ms if self._caption else self._last_final_end_ms))
                self._clause_open = False
            return
        words = tuple(strip_word(w) for w in new)
        clause_end = closes or ends_sentence(new[-1]) or ends_clause(new[-1])
        self._events.append(
            FinalCaption(
                words[0].start_ms,
                words[-1].end_ms,
                join_words(new),
                words,
                self._final_language(),
                line_start=self._piece_from == 0,
                clause_end=clause_end,
            )
        )
        self._piece_from = len(self._caption)
        self._clause_open = not clause_end

    def _close_caption(self) -> None:
        if not self._caption:
            return
        words = tuple(strip_word(w) for w in self._caption)
        text = join_words(self._caption)
        if self._s.final_pieces:
            self._emit_piece(closes=True)
        else:
            self._events.append(FinalCaption(words[0].start_ms, words[-1].end_ms, text, words, self._final_language()))
        self._last_final_end_ms = words[-1].end_ms
        self._closed.append((ms_to_samples(words[-1].end_ms), text))
        self._caption = []
        self._piece_from = 0
        self._held_since = None

    def _committed_tail(self) -> list[str]:
        """The last ``DEDUP_MAX_NGRAM`` committed words, normalised."""
        return [normalize(w.text) for w in list(self._committed)[-DEDUP_MAX_NGRAM:]]

    def _prompt(self) -> str:
        """Captioned text before the window (text inside it is in the audio already).

        Whole closed captions only: a prompt running on to the window's first word
        (tried) carries the recogniser's own recent misspellings into the next
        passes ("veillez" for "veuillez" five times in held-out French).
        """
        limit = self._s.prompt_max_chars
        cutoff = self._buf_start + ms_to_samples(RECOMMIT_TOLERANCE_MS)
        prompt = " ".join(t for end, t in self._closed if end <= cutoff)
        if len(prompt) > limit:
            prompt = prompt[-limit:].split(" ", 1)[-1] if limit else ""
        return prompt

    def _with_words_it_missed(self, words: list[Word], decoded: list[Word], speech_end: int) -> list[Word]:
        """The closing pass's words, plus the previous hypothesis's words where it left speech without words.

        Whisper sometimes ends a decode early ("followed by the pound key." out of
        a 10 s window with a sentence more), or loops inside a word that the
        guards then drop: where the closing pass leaves over ``MISSED_SPEECH_MS``
        of speech without words before the pause, and the previous pass had words
        there (over speech), those are kept instead of lost. A decode that ends early
        may also leave its last word stretched to the pause ("didn't" over the "know
        that." it never read): such a word counts as ending where the previous pass ended it.
        ``decoded``: all the pass decoded, before repeats were collapsed (a collapsed
        phrase loop is not speech it missed: refilled, its copies would come back).
        """
        fills: list[Word] = []
        prev_end = self._committed_end_ms
        prev = last = self._committed[-1] if self._committed else None
        for nxt in [*decoded, None]:
            hole_end = ms_to_samples(nxt.start_ms) if nxt is not None else speech_end
            a = ms_to_samples(prev_end)
            if self._speech_samples(a, hole_end) >= ms_to_samples(MISSED_SPEECH_MS):
                # A word the closing pass has at the hole's edge, timed differently, is not
                # missed ("упал, | разбил" where the previous pass had "разбил" from "упал"'s end).
                # Not a word the pass dropped, though: a loop's last copy squeezed into the pause
                # ("didn't | know" at the window's end, where the pass before had "know that" in
                # the hole) reads nothing at the edge.
                edges = [normalize(x.text) for x in (prev, nxt) if x is not None and (x is last or _kept(x, words))]
                fills.extend(
                    w for w in self._hyp
                    if prev_end <= (w.start_ms + w.end_ms) // 2 < samples_to_ms(hole_end)
                    and self._speech_share(ms_to_samples(w.start_ms), ms_to_samples(w.end_ms)) >= MISSED_WORD_SPEECH_SHARE
                    and not any(similar_word(normalize(w.text), e) for e in edges)
                )
            if nxt is not None:
                prev_end = max(prev_end, self._end_as_heard_before(nxt))
                prev = nxt
        if not fills:
            return words
        # A word stretched over the words filled after it ends where the first of them starts.
        cut = [Word(w.text, w.start_ms, min([w.end_ms, *(f.start_ms for f in fills if f.start_ms > w.start_ms)]),
                    w.probability) for w in words]
        return sorted([*cut, *fills], key=lambda w: w.start_ms)

    def _end_as_heard_before(self, w: Word) -> int:
        """``w``'s end, or the end the last hypothesis gave the same word where the closing pass
        stretched it over words it never read ("didn't" to the pause, over "know that.")."""
        for h in self._hyp:
            if (abs(h.start_ms - w.start_ms) <= STRETCH_START_MS and h.end_ms + STRETCH_MIN_MS <= w.end_ms
                    and normalize(h.text) == normalize(w.text)):
                return h.end_ms
        return w.end_ms

    def _left_unread(self, words: list[Word], gap: tuple[int, int]) -> bool:
        """Whether ``words``, which would close the utterance ending at ``gap[0]``, left at least
        ``unread_speech_ms`` of its speech unread after them, and it was not read again yet."""
        if not self._s.unread_speech_ms or self._reread:
            return False
        end = max([self._committed_end_ms, *(w.end_ms for w in words)])
        return self._speech_samples(ms_to_samples(end), gap[0]) >= ms_to_samples(self._s.unread_speech_ms)

    def _read_the_rest_again(self, words: list[Word]) -> None:
        """Commit what a closing pass read; the utterance's next closing pass is forced through it
        (see _request), and it is not read again after that."""
        self._reread = True
        self._commit([w for w in words if not self._filler(w)])
        self._hyp, self._hyp_window_end = [], 0

    def _finalise_at(self, gap: tuple[int, int], words: list[Word], seen_until: int) -> None:
        """Commit an utterance that ended at ``gap[0]``; settle the audio up to the next onset."""
        self._looping = False
        self._reread = False
        # A pass that ran before the pause was long enough to count could not judge its last words by it.
        self._commit([w for w in words if not self._filler(w)], before_pause=True)
        if self._is_fragment() and not self._ended:
            self._held_since = gap[0]
            self._emit_piece()
        else:
            self._close_caption()
        # The hypothesis is spent; an older pass's coverage must not finalise later speech.
        self._hyp, self._hyp_window_end = [], 0
        onset = min(gap[1], seen_until)
        self._trim_to(max(gap[0], onset - ms_to_samples(self._s.preroll_ms)), context=True)

    def _caption_boundary(self) -> int:
        """Sample between the last closed caption's last word and the next word."""
        trim_ms = self._last_final_end_ms
        upcoming = self._caption or self._hyp
        if upcoming and upcoming[0].start_ms > trim_ms:
            onset = upcoming[0].start_ms
            trim_ms = max(trim_ms, min((trim_ms + onset) // 2, onset - self._s.preroll_ms))
        elif upcoming:
            trim_ms = min(trim_ms, upcoming[0].start_ms)
        return ms_to_samples(trim_ms)

    def _settle_after_caption(self) -> None:
        """Mark captioned audio settled; trim the window only once it grows long."""
        boundary = min(self._caption_boundary(), self._received)
        if boundary > self._settled:
            self._settled = boundary
            self._boundaries.append(boundary)
        if self._received - self._buf_start <= ms_to_samples(self._s.trim_window_ms):
            return
        old_enough = self._received - ms_to_samples(self._s.trim_min_age_ms)
        cuts = [b for b in self._boundaries if self._buf_start < b <= old_enough]
        if cuts:
            self._trim_to(cuts[-1], context=True)

    def _update_partial(self) -> None:
        # With pieces on, every committed word is final already: the partial is the moving tail.
        words = [*self._hyp] if self._s.final_pieces else [*self._caption, *self._hyp]
        text = join_words(words)
        stable = "" if self._s.final_pieces else join_words(self._caption)
        if not text.startswith(stable):  # defensive: stable must be a prefix of text
            stable = ""
        if (text, stable) != self._partial:
            if words:
                self._events.append(PartialCaption(words[0].start_ms, words[-1].end_ms, text, stable))
            else:
                self._events.append(PartialCaption(self._last_final_end_ms, self._last_final_end_ms, ""))
            self._partial = (text, stable)

    # ---- window management -------------------------------------------------

    def _behind(self) -> bool:
        """Whether recognition trails the audio by more than ``degrade_lag_ms``."""
        return max(self._lag, self._received - max(self._last_pass_end, self._settled)) > ms_to_samples(
            self._s.degrade_lag_ms
        )

    def _beam(self, final: bool) -> int:
        """The beam of the next pass: 1 while behind; ``final_beam_size`` to close an utterance;
        ``beam_size`` over moving words while the last pass took at most ``beam_max_lag_ms``."""
        s = self._s
        if self._behind():
            return 1
        if final:
            return s.final_beam_size
        return s.beam_size if self._lag <= ms_to_samples(s.beam_max_lag_ms) else 1

    def _request(self, *, final: bool, end: int | None = None) -> TranscriptionRequest:
        s = self._s
        end = self._received if end is None else end
        # Catching up: a pass takes in at most max_backlog_ms of unseen audio and never
        # more than max_window_ms in all; the rest waits for the next pass, never dropped.
        seen = max(self._last_pass_end, self._settled)
        limit = min(seen + ms_to_samples(s.max_backlog_ms), self._buf_start + ms_to_samples(s.max_window_ms))
        if end > limit:
            end, final = max(limit, min(end, seen + ms_to_samples(s.min_step_ms))), False
        beam = self._beam(final)
        req = TranscriptionRequest(
            audio=self._window.view(end),
            start_sample=self._buf_start,
            language=self._language,
            # A moving pass with the beam goes unprompted (RecognizerSettings.beam_size).
            prompt=self._prompt() if final or beam == 1 else "",
            hotwords=self._hotwords,
            task=self._task,
            final=final,
            beam_size=beam,
            prefix=self._prefix() if (self._s.prefix_after_loop and self._looping) or (self._reread and final) else (),
        )
        self._in_flight.append(req)
        self._last_pass_end = end
        return req

    def _overlapping_pass(self) -> TranscriptionRequest | None:
        """A moving pass to start while another still decodes (``passes_in_flight``), or None.

        Only over moving speech while a core is spare and recognition keeps up, the last pass
        back within a step of its audio (on a core shared with other work passes side by side
        would only slow each other down): a pause, the end of the stream or a backlog waits for
        the pass out to come back, and then goes one pass at a time.
        """
        if (self._ended or self._spare_cores < SPARE_CORES_MIN or self._lag > ms_to_samples(self._s.min_step_ms)
                or self._behind()):
            return None
        step = ms_to_samples(self._s.min_step_ms // self._s.passes_in_flight)
        if self._received - self._last_pass_end < step or not self._has_speech(self._last_pass_end, self._vad_until):
            return None
        return self._request(final=False)

    def _partner(self, req: TranscriptionRequest) -> list[Word]:
        """The hypothesis the words of ``req``'s pass must agree with: the last one, or with passes
        side by side the newest heard at least most of a step (``min_step_ms``) before it, less the
        words committed since it was read."""
        if self._s.passes_in_flight == 1:
            return self._hyp
        apart = ms_to_samples(self._s.min_step_ms - self._s.min_step_ms // (2 * self._s.passes_in_flight))
        for end, words in reversed(self._hyps):
            if end <= req.end_sample - apart:
                floor = self._committed_end_ms - RECOMMIT_TOLERANCE_MS
                return [w for w in words if (w.start_ms + w.end_ms) // 2 >= floor]
        return self._hyp

    def _prefix(self) -> tuple[Word, ...]:
        """The committed words the window starts with (see ``RecognizerSettings.prefix_after_loop``);
        empty when none, or when some of them were forgotten."""
        start_ms = samples_to_ms(self._buf_start)
        words = [w for w in self._committed if (w.start_ms + w.end_ms) // 2 >= start_ms]
        if len(words) == len(self._committed) == COMMITTED_WORDS:
            return ()
        return tuple(words)

    def _trim_to(self, sample: int, *, context: bool = False) -> None:
        """Settle everything before ``sample``; keep ``context_ms`` before it when asked."""
        sample = min(sample, self._received)
        self._settled = max(self._settled, sample)
        start = self._word_boundary_before(sample - ms_to_samples(self._s.context_ms)) if context else sample
        start = max(start, self._settled - ms_to_samples(self._s.max_window_ms // 2))
        self._boundaries = [b for b in self._boundaries if b > start]
        if start <= self._buf_start:
            return
        self._window.drop_before(start)
        self._buf_start = start
        horizon = start - ms_to_samples(self._s.max_window_ms)
        self._speech = [(s, e) for s, e in self._speech if e > horizon]

    def _word_boundary_before(self, sample: int) -> int:
        """``sample``, or, when it falls inside a committed word, the boundary before that word
        (half way from the word before it). A window that starts inside a word decodes its
        tail as noise ("en elante de número" for "la tecla de número"), and then Whisper may
        give nothing at all for the new speech after it, for passes on end."""
        at = samples_to_ms(sample)
        prev_end: int | None = None
        for w in self._committed:
            if w.start_ms < at < w.end_ms:
                edge = w.start_ms if prev_end is None else min(w.start_ms, (prev_end + w.start_ms) // 2)
                return ms_to_samples(edge)
            prev_end = w.end_ms
        return sample

    def _drop_silence(self) -> None:
        """No decoding on silence: without speech or pending words, keep only the pre-roll."""
        if self._hyp or self._open_caption() or self._has_speech(self._settled, self._vad_until):
            return
        self._trim_to(self._vad_until - ms_to_samples(self._s.preroll_ms), context=True)

    def _flush(self) -> None:
        self._commit(self._hyp)
        self._hyp, self._hyp_window_end = [], 0
        self._close_caption()

    def _cap_window(self) -> None:
        """Force-commit when the decoded window outgrows ``max_window_ms`` (no agreement arrived).

        Only audio a pass has seen counts: audio waiting behind a late pass is
        caught up with later, never cut.
        """
        limit = ms_to_samples(self._s.max_window_ms)
        if self._decoded_until() - self._buf_start <= limit:
            return
        old_enough = self._received - ms_to_samples(self._s.trim_min_age_ms)
        cuts = [b for b in self._boundaries if self._buf_start < b <= old_enough]
        if cuts:  # a caption end to cut at, old enough to keep agreement going
            self._trim_to(cuts[-1], context=True)
        if self._decoded_until() - self._buf_start > limit:
            self._flush()
            self._settle_after_caption()
            self._trim_to(self._settled, context=True)
        overflow = self._decoded_until() - self._buf_start - limit
        if overflow > 0:  # no words to cut at: the oldest decoded audio gave nothing, let it go
            self._trim_to(min(self._decoded_until(), self._buf_start + overflow + limit // 2))
        self._update_partial()

    def _decoded_until(self) -> int:
        """The end of the audio the passes have seen (the window's end when they keep up)."""
        return min(self._received, max(self._last_pass_end, self._buf_start))


def _kept(word: Word, kept: list[Word]) -> bool:
    """Whether ``word`` (or its copy fitted to speech) is among ``kept``: same text, overlapping times."""
    return any(w.text == word.text and w.start_ms <= word.end_ms and word.start_ms <= w.end_ms for w in kept)


def _time_overlap(a: Word, b: Word) -> float:
    """Intersection over union of two words' times (0 when they do not overlap)."""
    inter = min(a.end_ms, b.end_ms) - max(a.start_ms, b.start_ms)
    union = max(a.end_ms, b.end_ms) - min(a.start_ms, b.start_ms)
    return inter / union if inter > 0 and union > 0 else 0.0
