"""A whole session in virtual time around a :class:`SessionCore`: no loop, no store file, no model.

``Replay`` carries out the core's effects like the server's runtime does, into
plain dicts: captions per language (by seq), frames per topic, translation jobs
waiting for an answer. Tests answer jobs when and how they like (out of order,
failing, late), so every interleaving is a few lines and runs in milliseconds.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from assistant.asr.types import ClauseEnd, FinalCaption, PartialCaption
from assistant.captions import Caption, Session
from assistant.session import (CaptionAdded, CaptionRevised, CloseAudio, Effect, FetchBacklog, Publish,
                               ReadersChanged, SessionChanged, SessionCore, StartEnglish, StopEnglish, Translate,
                               TranslationJob, Warn)
from assistant.session.core import Correct


@dataclass
class Replay:
    core: SessionCore
    now_ms: int = 1_750_000_000_000
    captions: dict[str, dict[int, Caption]] = field(default_factory=dict)
    frames: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: list[TranslationJob] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    english_running: bool = False
    audio_open: bool = False
    sessions_saved: list[Session] = field(default_factory=list)

    @classmethod
    def of(cls, source_lang: str = "en", languages: tuple[str, ...] = (), available: tuple[str, ...] = (),
           asr: bool = True) -> "Replay":
        ids = itertools.count(1)
        core = SessionCore(Session("s", "S", source_lang, 0, languages=languages), latest_seqs={},
                           audio_end_ms=0, new_id=lambda: f"c{next(ids)}", speech_recognition=asr)
        core.targets_available(available)
        replay = cls(core)
        replay.run()
        return replay

    def run(self) -> None:
        while effects := self.core.effects():
            for effect in effects:
                self.apply(effect)

    def apply(self, effect: Effect) -> None:
        if isinstance(effect, CaptionAdded):
            lang = self.captions.setdefault(effect.caption.lang, {})
            assert effect.caption.seq == len(lang) + 1, "seq numbers have no gaps"
            assert all(c.id != effect.caption.id for c in lang.values()), "one version per language"
            lang[effect.caption.seq] = effect.caption
            self.frames.setdefault(effect.caption.lang, []).append({"type": "caption", "seq": effect.caption.seq,
                                                                   "text": effect.caption.text})
        elif isinstance(effect, CaptionRevised):
            stored = self.captions[effect.caption.lang][effect.caption.seq]
            assert effect.caption.revision == stored.revision + 1 and effect.before == stored.text
            self.captions[effect.caption.lang][effect.caption.seq] = effect.caption
            self.frames.setdefault(effect.caption.lang, []).append(
                {"type": "correction", "seq": effect.caption.seq, "text": effect.caption.text})
        elif isinstance(effect, Publish):
            self.frames.setdefault(effect.topic, []).append(json.loads(effect.frame.data))
        elif isinstance(effect, Translate):
            self.jobs.append(effect.job)
        elif isinstance(effect, FetchBacklog):
            source = self.captions.get(self.core.source_lang, {})
            # As the stores answer: a piece whose clause was translated (under a later piece of its line,
            # starting at or before it) is not missing.
            have = {t.id: t for t in self.captions.get(effect.lang, {}).values()}
            spoken = [source[seq] for seq in sorted(source)]
            missing = []
            for i, c in enumerate(spoken):
                line = itertools.takewhile(lambda p: p.continues, spoken[i + 1:])
                if c.id not in have and not any(p.id in have and have[p.id].start_ms <= c.start_ms for p in line):
                    missing.append(c)
            self.core.receive_backlog(effect.lang, missing)
        elif isinstance(effect, StartEnglish):
            self.english_running = True
        elif isinstance(effect, StopEnglish):
            self.english_running = False
        elif isinstance(effect, CloseAudio):
            self.audio_open = False
        elif isinstance(effect, SessionChanged):
            self.sessions_saved.append(effect.session)
        elif isinstance(effect, Warn):
            self.warnings.append(effect.message)
        else:
            assert isinstance(effect, ReadersChanged)

    # -- driving -----------------------------------------------------------
    def audio(self, seconds: float) -> None:
        if not self.audio_open:
            self.core.audio_opened()
            self.audio_open = True
        self.core.audio_received(self.now_ms, int(seconds * 16_000))
        self.now_ms += int(seconds * 1000)
        self.run()

    def final(self, text: str, start_ms: int, end_ms: int, *, english: bool = False) -> None:
        self.core.receive_recognizer_event(FinalCaption(start_ms, end_ms, text, (), "en"), self.now_ms,
                                           english=english)
        self.run()

    def piece(self, text: str, start_ms: int, end_ms: int, *, line_start: bool = False, clause_end: bool = False,
              language: str = "en") -> None:
        """A final that is a piece of a line (the recogniser settles words before the line fills)."""
        self.core.receive_recognizer_event(FinalCaption(start_ms, end_ms, text, (), language, line_start=line_start,
                                                        clause_end=clause_end), self.now_ms)
        self.run()

    def clause_end(self, end_ms: int) -> None:
        self.core.receive_recognizer_event(ClauseEnd(end_ms), self.now_ms)
        self.run()

    def partial(self, text: str, start_ms: int, end_ms: int) -> None:
        self.core.receive_recognizer_event(PartialCaption(start_ms, end_ms, text), self.now_ms)
        self.run()

    def correct(self, caption_id: str, text: str, lang: str | None = None) -> Caption:
        versions = tuple(c for lang_caps in self.captions.values() for c in lang_caps.values() if c.id == caption_id)
        fixed = self.core.receive_chair_action(Correct(versions, lang or self.core.source_lang, text, "chair"),
                                               self.now_ms)
        self.run()
        assert fixed is not None
        return fixed

    def answer(self, job: TranslationJob, text: str | None = None, *, fail: str | None = None) -> None:
        self.jobs.remove(job)
        if fail is not None:
            self.core.receive_translation_failure(job, fail, self.now_ms)
        else:
            self.core.receive_translation(job, text if text is not None else f"[{job.lang}] {job.text}", False,
                                          self.now_ms)
        self.run()

    def answer_all(self) -> None:
        while self.jobs:
            self.answer(self.jobs[0])

    def texts(self, lang: str) -> list[str]:
        return [c.text for _, c in sorted(self.captions.get(lang, {}).items())]
