"""Frozen values crossing the ASR boundaries: requests, results, VAD frames, events, settings.

Times are audio time: absolute sample indices at :data:`assistant.pcm.SAMPLE_RATE` (16 kHz) or
milliseconds counted from sample 0 of the stream. Nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from assistant.captions import Word
from assistant.pcm import AudioArray, samples_to_ms

Task = Literal["transcribe", "translate"]


@dataclass(frozen=True, slots=True)
class TranscriptionRequest:
    """One recognition pass the core asks for: a window of audio plus decoding context.

    ``audio`` is float32 mono 16 kHz starting at absolute sample ``start_sample``.
    ``prompt`` is recently committed text (Whisper's initial prompt); ``hotwords``
    is the session glossary. ``final`` marks the last pass of an utterance (VAD
    endpoint or end of stream): the core will commit all of its words.
    ``beam_size`` is the beam this pass should decode with (None: the
    transcriber's default). ``prefix`` is the committed words the window's audio
    starts with: the decoder is forced through it and decodes only what follows
    (with the beam), and the result's words include it, re-aligned. ``audio``
    is a read-only view, valid until the result has been handed back to the
    recogniser.
    """

    audio: AudioArray = field(compare=False, repr=False)
    start_sample: int
    language: str | None = None
    prompt: str = ""
    hotwords: tuple[str, ...] = ()
    task: Task = "transcribe"
    final: bool = False
    beam_size: int | None = None
    prefix: tuple[Word, ...] = ()

    @property
    def end_sample(self) -> int:
        return self.start_sample + len(self.audio)

    @property
    def start_ms(self) -> int:
        return samples_to_ms(self.start_sample)

    @property
    def end_ms(self) -> int:
        return samples_to_ms(self.end_sample)


@dataclass(frozen=True, slots=True)
class TranscribedSegment:
    """One decoded segment with Whisper's own confidence figures.

    Word texts are as the model emits them: with their leading space in
    languages written with spaces, so ``"".join(texts)`` rebuilds the text.
    """

    words: tuple[Word, ...]
    start_ms: int
    end_ms: int
    no_speech_prob: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 1.0

    @property
    def text(self) -> str:
        return "".join(w.text for w in self.words).strip()


@dataclass(frozen=True, slots=True)
class Transcription:
    """The answer to one :class:`TranscriptionRequest` (absolute word times in ms)."""

    start_sample: int
    end_sample: int
    segments: tuple[TranscribedSegment, ...]
    language: str
    language_probability: float = 1.0
    compute_ms: int = 0

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(w for s in self.segments for w in s.words)


@dataclass(frozen=True, slots=True)
class VoiceActivity:
    """Speech probabilities for consecutive frames starting at ``start_sample``."""

    start_sample: int
    frame_samples: int
    probabilities: tuple[float, ...]

    @property
    def end_sample(self) -> int:
        return self.start_sample + self.frame_samples * len(self.probabilities)


@dataclass(frozen=True, slots=True)
class FinalCaption:
    """Words that will not change any more: a whole caption line, or a piece of one.

    Finals may close sooner than a phone line: ``line_start`` False means this
    piece continues the line of the previous final (readers join them on one
    line, exports group them). ``clause_end`` True means a clause ends with
    this piece, so translation may start on the pieces since the last clause
    end; False means more of the clause follows (or a :class:`ClauseEnd`).
    The defaults make every final a whole line and a whole clause.
    """

    start_ms: int
    end_ms: int
    text: str
    words: tuple[Word, ...]
    language: str
    line_start: bool = True
    clause_end: bool = True


@dataclass(frozen=True, slots=True)
class PartialCaption:
    """The whole still-changing tail after the last final; replaces the previous partial.

    Empty ``text`` clears it. ``stable_text`` is the prefix of ``text`` that is
    committed (agreed by two passes, will not change; it is only waiting for its
    caption line to close), so readers can show it as settled.
    """

    start_ms: int
    end_ms: int
    text: str
    stable_text: str = ""


@dataclass(frozen=True, slots=True)
class ClauseEnd:
    """The clause of the finals since the last clause end is complete (e.g. a pause followed it)."""

    end_ms: int


@dataclass(frozen=True, slots=True)
class LagReport:
    """How far recognition trails the audio after a pass.

    ``dropped_ms`` stays 0: a recogniser that falls behind catches up in longer
    steps instead of skipping audio (the field is kept for readers of older events).
    """

    lag_ms: int
    dropped_ms: int = 0


@dataclass(frozen=True, slots=True)
class LanguageDetected:
    """The spoken language the recogniser settled on for an auto-language stream."""

    language: str
    probability: float


RecognizerEvent = Union[FinalCaption, ClauseEnd, PartialCaption, LagReport, LanguageDetected]


@dataclass(frozen=True, slots=True)
class RecognizerSettings:
    """Policy knobs of :class:`StreamingRecognizer`; the defaults were tuned on a 2-core CPU."""

    # Scheduling: a regular pass needs this much audio that no pass has seen yet. Two
    # hypotheses 800 ms apart agree on fewer of greedy decoding's guesses than two 400 ms
    # apart, and half the passes leave the CPU for the beam and for catching up (held-out
    # Spanish went from +12.1 to +4.3 points over offline in one sitting; benchmarks/README.md).
    min_step_ms: int = 800
    # Moving passes that may run at once, each on a core of its own (the model runs that
    # many decodes side by side). With 2, a pass starts every min_step_ms / 2 of new
    # audio while the one before is still decoding, and each hypothesis agrees with the
    # one heard about min_step_ms before it, not with its 400 ms neighbour (which agrees
    # on greedy guesses too often): words are seen and settle about half a step and half a
    # pass sooner, for twice the passes. Only while recognition keeps up and a core is spare
    # (StreamingRecognizer.receive_spare_cores), never for the pass that closes an
    # utterance; 1: one pass at a time.
    passes_in_flight: int = 1
    # VAD: hysteresis thresholds on the speech probability. 0.35 / 0.2 hears more of the quiet
    # words of fast conversation ("and yet the GOP"), but held-out Russian reading read 0.5-2.2
    # points worse on every schedule (stop 39, benchmarks/README.md).
    speech_threshold: float = 0.5
    silence_threshold: float = 0.35
    use_vad: bool = True
    # A pause this long after speech finalises the utterance at once.
    endpoint_silence_ms: int = 500
    # Audio kept before the first speech frame, so word onsets are not cut.
    preroll_ms: int = 300
    # Already-captioned audio kept before a trim point (and before the next utterance
    # after a pause) as acoustic context: its words are decoded again and skipped, but
    # the first new word is no longer guessed cold ("ask not" -> "is not"). 4 s since
    # stop 37: with the beam on moving passes, held-out Spanish, Italian and Russian
    # reading read 0.4-2.8 points nearer offline than with 2 s on every schedule tried
    # (Russian prompts moved both ways), for finals ~0.1 s later (benchmarks/README.md).
    # 5 or 6 s, or a context reaching back to a sentence start, read no better at stop 38;
    # 2 s while passes run late gave back what 4 s gains on the slower box's schedule.
    context_ms: int = 4_000
    # The window runs from the utterance's start until a pause finalises it; only
    # beyond this length is it trimmed, at a closed caption at least trim_min_age_ms
    # older than the newest audio (short windows lose context: "ask not" -> "is not").
    trim_window_ms: int = 10_000
    trim_min_age_ms: int = 1_500
    # Captions (phone lines): close at sentence ends, at clause ends once this long,
    # at a pause between committed words, or at a limit. Lengths are screen columns:
    # a Chinese, Japanese or Korean character counts two.
    caption_max_chars: int = 60
    caption_max_ms: int = 4_000
    clause_min_chars: int = 35
    caption_pause_ms: int = 300
    # A pause that ends an utterance closes its caption too, unless the caption is
    # shorter than this ("of", "So I,", "Ask not."): such a fragment is held
    # open for the next utterance (its words stay settled on screen), and closed
    # once caption_hold_ms of silence followed it.
    caption_min_chars: int = 20
    caption_hold_ms: int = 2_000
    # The window never grows beyond this: older audio is force-committed.
    max_window_ms: int = 15_000
    # Behind by more than this after a pass: commit from one hypothesis (fewer passes),
    # decode with beam 1 only, even the pass that closes an utterance.
    degrade_lag_ms: int = 2_500
    # Audio not yet seen by any pass beyond this: catch up in steps of up to
    # max_window_ms (never dropped; LagReport says how far behind recognition is).
    max_backlog_ms: int = 8_000
    # Beams: a pass over moving words decodes with beam_size while recognition keeps up
    # (the pass before it took at most beam_max_lag_ms: the audio that arrived meanwhile),
    # greedily otherwise; such a beam pass goes without the prompt, which leads a beam into
    # an earlier sentence ("ingrese el número de la conferencia" for other words). On a box
    # where a beam pass takes ~0.4 s, over three cost schedules: Russian prompts 20.5% ->
    # 18.0%, Spanish 24.5% -> 23.5%, Russian reading 14.9% -> 15.6%, the others within
    # half a point, finals ~0.1 s later; on the slower box's schedule (greedy passes ~0.6 s)
    # most moving passes stay greedy, WER and latency as before (benchmarks/
    # README.md, stop 35).
    # The pass that closes an utterance (at a pause, at the end of the stream) decodes with
    # final_beam_size and the prompt. With refine_at_pause, a pause runs that closing pass
    # even when a greedy pass already covered it, so the utterance's last, uncommitted
    # words get the beam (off: on the loaded 2-core box it added ~0.5 s to final p50 and
    # ~2 s to p95 without a WER gain that could be told from run-to-run noise).
    beam_size: int = 5
    beam_max_lag_ms: int = 500
    final_beam_size: int = 5
    refine_at_pause: bool = False
    # Once a pass of an utterance fell into a loop, its later passes force the decoder
    # through the committed words their window starts with and decode only what
    # follows: the committed part is not read again, in a loop or differently, and the
    # words after it agree sooner (TranscriptionRequest.prefix; benchmarks/README.md,
    # stop 23: Spanish maximum 7.89 -> 4.97 s, WER lower on 4 of 6 kinds). Not on every
    # pass: read on from greedy mistakes, Russian lost 1.7-2.7 points.
    prefix_after_loop: bool = True
    # Words in the last stretch of a window are never committed from one hypothesis.
    unstable_tail_ms: int = 1_000
    # Nor by agreement when they end this close to the newer window's end.
    agreement_tail_ms: int = 0
    # A word the newest pass read with at least this much audio after it is committed
    # from that pass, agreed or not: passes that keep reading one word differently (a
    # name, a loop that moves) would hold it, and every word after it, until the pause
    # or the window's cap (finals 8-11 s late in held-out Spanish; benchmarks/README.md,
    # stop 27: at 2 s Russian reading lost 1.3 points; at 3 s each kind moved a few words
    # either way). Also from a pass that looped past its audio (one that lost the speech's
    # words to its loop replaces nothing; stop 47). 0: off.
    settle_after_ms: int = 3_000
    # A moving pass that read under a third of this much speech after the committed words
    # is deaf: it neither replaces the last hypothesis nor closes the utterance. Two in a
    # row, in a window that starts with context (audio captioned already), heard the
    # context and not the speech ("de" alone for 2 s of "hasta luego", pass after pass,
    # until the pause): the window drops its context, and the next pass reads the new
    # speech with the captions before it as its prompt (0: off; benchmarks/README.md, stop 33).
    # A deaf pass still agrees: the words it read that the last hypothesis read too, and read
    # on past, are committed ("press one." read twice, then nothing of the next sentence,
    # held "one" 7.1 s in held-out English prompts; stop 48).
    deaf_speech_ms: int = 1_500
    # A pass that would close an utterance, yet read none of its last unread_speech_ms of speech
    # or more, ended its decode early ("… and then press the" of "… press the pound key" in
    # held-out English prompts, "regresar a la conferencia" of "… conferencia por favor ingrese"
    # in Spanish): what it read commits, and the utterance's closing pass runs once more,
    # forced through the committed words, so the decoder reads on after them (0: off; stop 48).
    # Shorter stretches are the VAD's hang-over after a last word that Whisper ends early
    # (0.40-0.48 s seen where nothing was missed).
    unread_speech_ms: int = 600
    prompt_max_chars: int = 200
    # Hallucination guards (Whisper's own thresholds).
    no_speech_threshold: float = 0.6
    logprob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    # Fillers: a word decoded below this probability that was hardly said (squeezed
    # into a few ms at a window's end, "Ciao." in 40 ms; mostly outside VAD speech,
    # "e" after the utterance's last word; or at most 120 ms long where a pause begins,
    # "представителя. Я.") is Whisper's guess, not speech (0: off).
    filler_max_probability: float = 0.4
    # Auto language: settle once a pass is this sure (or after language_max_passes).
    language_lock_probability: float = 0.5
    language_max_passes: int = 3
    # Emit committed words at once as FinalCaption pieces (line_start/clause_end tell
    # readers how they make lines and clauses); False: one FinalCaption per closed line,
    # committed words wait in the partial's stable_text.
    final_pieces: bool = True

    def __post_init__(self) -> None:
        if self.passes_in_flight < 1:
            raise ValueError(f"passes_in_flight must be at least 1, got {self.passes_in_flight}")
