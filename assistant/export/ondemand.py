"""Transcripts in any language reachable from the spoken one, whether or not anyone read it live.

:func:`plan_language` decides where a language's transcript comes from:

* ``stored`` — its captions as kept: the spoken language; a language every
  spoken caption was translated into live; Whisper's own English (its captions
  are not translations of the spoken ones, so nothing can be merged into them);
  a language no installed package reaches any more.
* ``translated`` — the spoken stream, each caption in the language: the live
  translation delegates saw where one is stored (a correction of the spoken
  caption revised it live), otherwise a translation made now from the corrected
  caption, kept in the store's ``export_translations`` keyed by the caption's
  revision and marked with what made it (the packages, their versions and the
  glossary), so an unchanged caption is never translated twice, and a corrected
  one, or one made before a package was updated or a glossary term added, is
  translated again. Nothing is added to the live ``captions`` table,
  whose numbering belongs to the session core. Captions are numbered by their
  place in the spoken stream (``seq`` of the spoken caption). Spoken pieces
  (captions that ``continue`` a line) are translated as whole lines: live,
  translation waited for whole clauses, stored under a clause's last piece.

:func:`transcript_captions` yields the captions lazily, a batch at a time, for
the exporters; memory stays bounded however long the session. The pieces that
decide what to translate and how to assemble a caption (:func:`requests_for`,
:func:`assemble`) are pure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from assistant.captions import Caption, Session, join_texts, lines_of
from assistant.errors import LanguageError, NotFoundError
from assistant.export.progress import ExportProgress
from assistant.export.storelike import StoreLike
from assistant.export.translating import BlockingTranslator, TranslatedText, TranslationRequest
from assistant.store.sqlite import CachedTranslation

READ_BATCH = 64  # spoken captions read per round trip
TRANSLATE_BATCH = 16  # captions per translator call: one model batch, so live captions of that pair wait little
WHISPER_ORIGIN = "whisper-translate"
_AUTO = "auto"
_DEFAULT_AUTO_SPOKEN = "en"  # what the session core assumes an "auto" caption without a detected language is

TranscriptSource = Literal["stored", "translated"]


class TranscriptStore(StoreLike, Protocol):
    """What on-demand translated transcripts need of the store (the SQLite ``Store`` has it all)."""

    def spoken_languages(self, session_id: str) -> list[str]: ...

    def has_origin(self, session_id: str, lang: str, origin: str) -> bool: ...

    def untranslated(self, session: str, source_lang: str, lang: str, limit: int) -> list[Caption]: ...

    def captions_since(self, session: str, lang: str, since: int, limit: int = ...) -> list[Caption]: ...

    def captions_by_id(self, session_id: str, lang: str, ids: Sequence[str]) -> dict[str, Caption]: ...

    def cached_translations(self, session_id: str, lang: str,
                            keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], CachedTranslation]: ...

    def save_cached_translations(self, translations: Sequence[CachedTranslation]) -> None: ...

    def count_to_translate(self, session_id: str, lang: str, engines: Mapping[str, str]) -> int: ...


@dataclass(frozen=True, slots=True)
class LanguagePlan:
    """Where the transcript of one language comes from (see the module docstring)."""

    lang: str
    source: TranscriptSource


def spoken_language(caption: Caption, session: Session) -> str:
    """The language a caption of the spoken stream was said in."""
    if caption.source_lang:
        return caption.source_lang
    return _DEFAULT_AUTO_SPOKEN if session.source_lang == _AUTO else session.source_lang


def reachable_languages(store: TranscriptStore, session: Session,
                        translator: BlockingTranslator | None) -> tuple[str, ...]:
    """Languages every caption of the session can be translated into now (sorted).

    In an "auto" session that is what every language spoken in it reaches.
    """
    if translator is None:
        return ()
    spoken = store.spoken_languages(session.id) or ([] if session.source_lang == _AUTO else [session.source_lang])
    if not spoken:
        return ()
    common = set(translator.targets(spoken[0])) | {spoken[0]}
    for lang in spoken[1:]:
        common &= set(translator.targets(lang)) | {lang}
    return tuple(sorted(common - {session.source_lang}))


def export_languages(store: TranscriptStore, session: Session,
                     translator: BlockingTranslator | None) -> list[str]:
    """Every language a transcript can be exported in: those stored (spoken one first), then the reachable rest."""
    stored = store.languages(session.id) or [session.source_lang]
    return stored + [lang for lang in reachable_languages(store, session, translator) if lang not in stored]


def default_languages(store: TranscriptStore, session: Session,
                      translator: BlockingTranslator | None) -> list[str]:
    """The languages of a zip when none are chosen: those stored, and those the session offers always."""
    stored = store.languages(session.id) or [session.source_lang]
    reachable = reachable_languages(store, session, translator)
    return stored + [lang for lang in session.languages if lang in reachable and lang not in stored]


def plan_language(store: TranscriptStore, session: Session, lang: str,
                  translator: BlockingTranslator | None) -> LanguagePlan:
    """Decide where the transcript in ``lang`` comes from; NotFoundError naming the possible ones if nowhere."""
    if lang == session.source_lang:
        return LanguagePlan(lang, "stored")
    stored = store.languages(session.id)
    reachable = reachable_languages(store, session, translator)
    if lang in stored:
        if (lang not in reachable or store.has_origin(session.id, lang, WHISPER_ORIGIN)
                or not store.untranslated(session.id, session.source_lang, lang, 1)):  # complete already
            return LanguagePlan(lang, "stored")
        return LanguagePlan(lang, "translated")
    if lang in reachable:
        return LanguagePlan(lang, "translated")
    possible = stored + [r for r in reachable if r not in stored]
    raise NotFoundError(
        f"session {session.id!r} has no captions in {lang!r}, and no installed translation package reaches "
        f"{lang!r} from what was spoken; its transcript can be exported in: {', '.join(possible) or 'none yet'}. "
        f"Install a package with `assistant languages add` to add {lang!r}")


def planned_counts(store: TranscriptStore, session: Session, plans: Sequence[LanguagePlan],
                   translator: BlockingTranslator | None) -> tuple[int, int]:
    """(captions each pass over ``plans`` writes, captions still to translate) for a progress report."""
    captions = translations = 0
    for plan in plans:
        if plan.source == "stored":
            captions += store.count_captions(session.id, plan.lang)
            continue
        captions += store.count_captions(session.id, session.source_lang)
        made: dict[str, str] = {}  # by spoken language, what would translate it now
        if translator is not None:
            engine_of = engines(translator, session, plan.lang)
            for spoken in store.spoken_languages(session.id):
                with contextlib.suppress(LanguageError):  # not reachable: nothing made by it, all counted
                    made[spoken] = engine_of(spoken)
        translations += store.count_to_translate(session.id, plan.lang, made)
    return captions, translations


def line_source(line: Sequence[Caption]) -> Caption:
    """A spoken line of pieces as one caption to translate: the first piece's id and seq, all the text,
    and a revision that grows with any piece's correction (the export cache is keyed by it)."""
    if len(line) == 1:
        return line[0]
    return dataclasses.replace(line[0], end_ms=line[-1].end_ms, text=join_texts(c.text for c in line),
                               revision=sum(c.revision for c in line))


def live_line(line: Sequence[Caption], found: Mapping[str, Caption]) -> Caption | None:
    """The live translation of a spoken line, joined from its clauses' translations (stored under each
    clause's last piece); None unless the line's last clause has one."""
    if line[-1].id not in found:
        return None
    parts = [found[c.id] for c in line if c.id in found]
    if len(parts) == 1:
        return parts[0]
    return dataclasses.replace(parts[0], end_ms=parts[-1].end_ms, text=join_texts(p.text for p in parts),
                               source_text=join_texts(p.source_text or "" for p in parts),
                               revision=max(p.revision for p in parts), fallback=any(p.fallback for p in parts),
                               continues=False)


def requests_for(sources: Sequence[Caption], session: Session, lang: str, live: Mapping[str, Caption],
                 cached: Mapping[tuple[str, int], object]) -> list[Caption]:
    """The spoken captions of a batch that still need translating into ``lang``.

    Not those with a live translation, an export translation of their current
    revision, no text, or that were said in ``lang`` already.
    """
    return [c for c in sources
            if c.id not in live and (c.id, c.revision) not in cached and c.text.strip()
            and spoken_language(c, session) != lang]


def assemble(source: Caption, session: Session, lang: str, live: Caption | None,
             translation: CachedTranslation | None) -> Caption:
    """The caption in ``lang`` that stands for spoken caption ``source`` in a ``translated`` transcript."""
    if live is not None:
        return dataclasses.replace(live, seq=source.seq)
    spoken = spoken_language(source, session)
    if spoken == lang or not source.text.strip():
        # Said in this language already (an "auto" session), or nothing to translate: the caption as it is.
        return dataclasses.replace(source, lang=lang)
    if translation is None:
        raise ValueError(f"no translation of caption {source.id!r} revision {source.revision} into {lang!r}")
    return Caption(session=source.session, lang=lang, seq=source.seq, id=source.id, start_ms=source.start_ms,
                   end_ms=source.end_ms, text=translation.text, revision=source.revision, origin="translation",
                   source_lang=spoken, source_text=source.text, fallback=translation.fallback)


def transcript_captions(store: TranscriptStore, session: Session, plan: LanguagePlan,
                        translator: BlockingTranslator | None, progress: ExportProgress | None = None,
                        *, read_batch: int = READ_BATCH, translate_batch: int = TRANSLATE_BATCH) -> Iterator[Caption]:
    """Yield the captions of ``plan.lang`` in order, translating (and keeping) what is missing as it goes.

    Blocking (store reads, translation): step it in a worker thread. Each
    translated batch is stored before its captions are yielded, so an export
    cut short keeps what it paid for.
    """
    if plan.source == "stored":
        yield from store.iter_captions(session.id, plan.lang)
        return
    if translator is None:
        raise ValueError(f"a translated transcript in {plan.lang!r} needs a translator")
    engine_of = engines(translator, session, plan.lang)

    def engine(c: Caption) -> str:
        return engine_of(spoken_language(c, session))

    lines = lines_of(store.iter_captions(session.id, session.source_lang))
    while batch := list(itertools.islice(lines, read_batch)):
        found = store.captions_by_id(session.id, plan.lang, [c.id for line in batch for c in line])
        sources = [line_source(line) for line in batch]
        live = {src.id: joined for src, line in zip(sources, batch) if (joined := live_line(line, found)) is not None}
        wanted = [c for c in sources if c.id not in live]
        kept = store.cached_translations(session.id, plan.lang, [(c.id, c.revision) for c in wanted])
        cached = {(c.id, c.revision): t for c in wanted
                  if (t := kept.get((c.id, c.revision))) is not None and t.engine == engine(c)}
        todo = requests_for(sources, session, plan.lang, live, cached)
        for start in range(0, len(todo), translate_batch):
            part = todo[start:start + translate_batch]
            made = translator.translate([TranslationRequest(c.text, spoken_language(c, session), plan.lang,
                                                            session.glossary) for c in part])
            fresh = [_cached(c, plan.lang, t, engine(c)) for c, t in zip(part, made, strict=True)]
            store.save_cached_translations(fresh)
            cached.update(((t.caption_id, t.source_revision), t) for t in fresh)
            if progress is not None:
                progress.translated(len(fresh))
        for source in sources:
            yield assemble(source, session, plan.lang, live.get(source.id), cached.get((source.id, source.revision)))


def engines(translator: BlockingTranslator, session: Session, lang: str) -> Callable[[str], str]:
    """What makes ``lang`` from a spoken language (:func:`made_by`), asked of the translator once per
    spoken language; LanguageError where it cannot."""
    known: dict[str, str] = {}

    def engine_of(spoken: str) -> str:
        if spoken not in known:
            known[spoken] = made_by(translator.edition(spoken, lang), session.glossary)
        return known[spoken]

    return engine_of


def made_by(edition: str, glossary: Sequence[str]) -> str:
    """An export translation's ``engine``: the translator's edition of the pair and (a digest of) the
    glossary terms it kept verbatim; a translation made by another is made again."""
    if not glossary:
        return edition
    return f"{edition} | glossary {hashlib.sha256(chr(10).join(glossary).encode()).hexdigest()[:16]}"


def _cached(source: Caption, lang: str, made: TranslatedText, engine: str) -> CachedTranslation:
    return CachedTranslation(source.session, source.id, source.revision, lang, made.text, made.fallback, engine)
