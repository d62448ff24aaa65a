"""Build the engines from the settings: the Whisper model, the recogniser factories, the translation service.

The Whisper model is loaded once and shared by every session, with one
inference thread; each session gets its own streaming state and VAD.
``make_app`` builds and closes these in its cleanup context.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from typing import Callable

from ..asr.runner import RecognizerRunner, SharedModel, load_shared_model
from ..asr.scripted import ScriptedTranscriber, ScriptedUtterance, utterance
from ..asr.transcriber import Transcriber
from ..asr.types import RecognizerSettings, Task, Transcription, TranscriptionRequest
from ..asr.vad import EnergyVoiceDetector, SileroVoiceDetector
from ..config import Settings
from ..errors import ModelError
from ..models import ModelInfo, resolve_model
from ..translate import (CachedTranslator, CTranslate2ArgosTranslator, EngineSettings, PackageRegistry,
                         PivotTranslator, TranslationService)
from ..translate.fake import FakeTranslator
from .runtime import Recognizer, RecognizerFactory

log = logging.getLogger(__name__)

TRANSLATION_BATCH = 16  # sentences of one language pair translated together
DEMO_LINES = (
    "This is a dry run of the caption system.",
    "No speech model is loaded, so these lines are scripted.",
    "Each sentence becomes a caption a few seconds after it is spoken.",
    "Use it to try the pages, the chair console and the exports.",
)
DEMO_SPACING_MS = 4000  # one scripted sentence every four seconds
DEMO_LENGTH_MS = 4 * 3600 * 1000
DEMO_TARGETS = ("de", "es", "fr", "zh")  # the dry run's fake translations, labelled "[fr] ..." and so on


def needs_speech_recognition(settings: Settings) -> bool:
    """Whether any session may get audio (no sessions configured: staff may create some that will)."""
    return not settings.sessions or any(s.source != "none" for s in settings.sessions)


def check_model_languages(settings: Settings, info: ModelInfo) -> None:
    for s in settings.sessions:
        if not info.multilingual and s.language not in ("en", "auto") and s.source != "none":
            raise ModelError(f"the model {info.name!r} understands English only, but session {s.id!r} is in "
                             f"{s.language!r}; use --model base (multilingual)")


def load_whisper(settings: Settings) -> SharedModel:
    """Load the configured Whisper model (blocking, seconds): one model and one inference thread for all."""
    info = resolve_model(settings.asr.model, settings.asr.models_dir)
    check_model_languages(settings, info)
    log.info("loading Whisper model %s from %s", info.name, info.path)
    shared = load_shared_model(info, compute_type=settings.asr.compute_type, cpu_threads=settings.asr.cpu_threads,
                               passes=settings.asr.passes_in_flight)
    if shared.cpu is not None:
        quota = shared.cpu.quota
        log.info("up to %d recognition passes at once while a core is spare (%s)", shared.passes,
                 f"a CPU quota of {quota.cores:g} cores" if quota else "no CPU quota: the machine's idle cores")
    return shared


def whisper_factory(shared: SharedModel, wrap: Callable[[Transcriber], Transcriber] | None = None
                    ) -> RecognizerFactory:
    """Per-session recognisers over one shared Whisper model, each with its own Silero VAD
    (``wrap``: e.g. the metrics' timing of each pass)."""
    transcriber = shared.transcriber if wrap is None else wrap(shared.transcriber)
    settings = RecognizerSettings(passes_in_flight=shared.passes)

    def factory(language: str | None, glossary: tuple[str, ...], task: Task = "transcribe") -> Recognizer:
        if not shared.info.multilingual and language is None:
            language = "en"
        return RecognizerRunner(transcriber, SileroVoiceDetector(), settings, executor=shared.executor,
                                language=language, hotwords=glossary, task=task, cpu=shared.cpu)

    return factory


def transcriber_factory(transcriber: Transcriber, executor: Executor) -> RecognizerFactory:
    """Per-session recognisers over a given transcriber (the dry run's script, a test's fake).

    Speech is found by signal energy, so silence (a paused session's audio) is never
    transcribed: scripted lines stop while the chair pauses, as real ones do.
    """

    def factory(language: str | None, glossary: tuple[str, ...], task: Task = "transcribe") -> Recognizer:
        return RecognizerRunner(transcriber, EnergyVoiceDetector(), executor=executor, language=language,
                                hotwords=glossary, task=task)

    return factory


def dry_run_engines() -> tuple[Transcriber, TranslationService]:
    """The shipped fakes for ``--dry-run``: scripted English lines and labelled ``[fr] ...`` translations."""
    return (_Forgetful(ScriptedTranscriber(_demo_script())),
            TranslationService(FakeTranslator([("en", lang) for lang in DEMO_TARGETS]), workers=1))


def build_translator(settings: Settings) -> TranslationService:
    """The translation service over the Argos packages folder.

    The folder is watched, not read once: a package that `assistant languages add`
    installs while the server runs is offered to readers at once, no restart.
    """
    registry = PackageRegistry(settings.translation.packages_dir)
    if not registry.installed():
        log.info("no translation packages in %s yet: captions in the spoken language only until "
                 "`assistant languages add` installs some (no restart needed)", settings.translation.packages_dir)
    engine = CTranslate2ArgosTranslator(registry, EngineSettings(intra_threads=settings.translation.threads_per_worker))
    return TranslationService(PivotTranslator(CachedTranslator(engine)), workers=settings.translation.workers,
                              max_batch=TRANSLATION_BATCH)


def _demo_script() -> list[ScriptedUtterance]:
    """Scripted sentences for --dry-run: labelled as such, never presented as recognition."""
    return [utterance(DEMO_LINES[i % len(DEMO_LINES)], t, word_ms=250, gap_ms=30)
            for i, t in enumerate(range(0, DEMO_LENGTH_MS, DEMO_SPACING_MS))]


class _Forgetful:
    """The scripted fake keeps every request for tests to inspect; a server must not."""

    def __init__(self, inner: ScriptedTranscriber) -> None:
        self._inner = inner

    def transcribe(self, request: TranscriptionRequest) -> Transcription:
        result = self._inner.transcribe(request)
        self._inner.requests.clear()
        return result
