"""Sessions and transcript exports.

    GET  /api/sessions                                   public sessions; all of them with the staff token
    POST /api/sessions                                   (staff) create a session, public or with a key,
                                                         optionally with a chair token for it alone
    GET  /api/languages                                  (staff) what a new session may be spoken in and produce
    GET  /api/sessions/{session}/export.{fmt}?lang=L     (staff) srt, vtt, txt, json, docx; &job=ID to follow it
    GET  /api/sessions/{session}/export.zip?langs=L,M    (staff) those languages (or "all") in every format
    GET  /api/sessions/{session}/transcript.{fmt}?lang=L a session's transcript (srt, vtt, txt): public,
                                                         or with ?key= (or a chair/staff token) when private
    GET  /api/exports/{job}                              (staff) how far the export started with job=ID has come

Exports stream: a generator of chunks is stepped through on the export worker's
thread and connection (:mod:`.exports`), so a 10-hour session never sits in
memory and never blocks the event loop; at most ``limits.max_concurrent_exports``
stream at once. A HEAD request gets the headers only and runs nothing. A language
nobody read live is translated as the file streams (:mod:`assistant.export.ondemand`):
the worker thread waits for each batch while the app's translation service runs it
on the loop, and the translations are kept, so the next export of that language
translates nothing.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import json
import logging
from typing import Any, AsyncIterator, Iterator

from aiohttp import web

from .. import protocol, validate
from ..captions import Caption, Session
from ..errors import AssistantError, NotFoundError, ProtocolError
from ..export import FORMATS, ZIP, content_type, export_chunks, filename, zip_chunks
from ..export.ondemand import (LanguagePlan, default_languages, export_languages, plan_language, planned_counts,
                               transcript_captions)
from ..export.progress import ExportProgress
from ..export.questions import entries_for
from ..export.translating import LoopTranslator
from ..store import Store
from ..store.log import ExportReader, LocalLog
from . import access, auth
from .boundary import json_body
from .exports import ExportWorker, Lane
from .jobs import MAX_PUBLIC_TRANSLATING
from .rooms import session_exists
from .keys import CLOCK, EXPORT_JOBS, EXPORTS, LOG, SESSIONS, SETTINGS, STORE, TRANSLATOR

log = logging.getLogger(__name__)

PUBLIC_FORMATS = ("srt", "vtt", "txt")
ALL_LANGUAGES = "all"
MAX_ZIP_LANGUAGES = 64  # languages one zip may name (Argos reaches a few dozen)

MAX_PRODUCED_LANGUAGES = 50


async def list_sessions(request: web.Request) -> web.Response:
    store, sessions = request.app[LOG], request.app[SESSIONS]
    staff = access.is_staff(request)
    base = access.public_url(request)
    out: list[dict[str, Any]] = []
    for s in await store.list_sessions():
        runtime = sessions.find(s.id)
        if not staff and (runtime is None or not s.public or runtime.state == "ended"):
            continue  # the public list: open sessions (an ended one is not listed, before a restart or after)
        item: dict[str, Any] = runtime.snapshot() if runtime is not None else {
            "id": s.id, "title": s.title, "source_lang": s.source_lang, "state": "ended", "readers": {},
            "languages": [s.source_lang], "started_at": s.started_at_ms, "public": s.public}
        item["url"] = f"{base}/s/{s.id}"
        if staff:
            item["stored_languages"] = await store.languages(s.id)
            translator = request.app.get(TRANSLATOR)
            if isinstance(store, LocalLog) and translator is not None:
                # Also those nobody read live: translated when exported (a cluster's web node exports stored ones).
                item["export_languages"] = export_languages(store.store, s, LoopTranslator(
                    translator, asyncio.get_running_loop()))
            item["captions"] = {lang: await store.count_captions(s.id, lang) for lang in item["stored_languages"]}
            item["ended_at"] = s.ended_at_ms
        out.append(item)
    return web.json_response({"sessions": out}, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def create_session(request: web.Request) -> web.Response:
    """Create a session (409 ``exists`` for an id the store has: a POST never changes a session)."""
    access.require_staff(request)
    sessions, store = request.app[SESSIONS], request.app[STORE]
    body = await json_body(request)
    base = access.public_url(request)
    sid = validate.session_id(body.get("id"), '"id"')
    lang = validate.spoken_language(body.get("language", "en"), '"language"')
    title = sid if body.get("title") in (None, "") else protocol.parse_title(body["title"])
    key = body.get("key")
    if key is not None:
        key = auth.valid_session_key(key)
    public = body.get("public", key is None)
    if not isinstance(public, bool):
        raise ProtocolError('"public" must be true or false')
    if public and key is not None:
        raise ProtocolError('a public session takes no "key"; send "public": false with it, or drop the key')
    chair_token = body.get("chair_token", False)
    if not isinstance(chair_token, bool):
        raise ProtocolError('"chair_token" must be true (a chair token for this session alone) or false')
    if sid in sessions or store.has_session(sid):
        raise session_exists(sid)
    now = request.app[CLOCK].now_ms()
    languages, glossary = _produced(request, body, lang)
    session = Session(id=sid, title=title, source_lang=lang, created_at_ms=now, languages=languages,
                      glossary=glossary, public=public)
    if not public and key is None:
        key = auth.new_session_key()  # shown once, in this response
    runtime = await sessions.create(session, key=key)
    out = runtime.snapshot()
    out["url"] = f"{base}/s/{sid}{auth.join_query(key)}"
    if key is not None:
        out["key"] = key
    if chair_token:
        out["chair_token_id"], out["chair_token"] = await sessions.issue_chair_token(sid)  # shown once
    return web.json_response(out, status=201)


def _produced(request: web.Request, body: dict[str, Any], spoken: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A new session's ``languages`` (translated always, read or not) and ``glossary``; both optional."""
    wanted = body.get("languages", [])
    if (not isinstance(wanted, list) or len(wanted) > MAX_PRODUCED_LANGUAGES
            or not all(isinstance(code, str) and validate.LANG_RE.match(code) for code in wanted)):
        raise ProtocolError(f'"languages" must be a list of at most {MAX_PRODUCED_LANGUAGES} language codes '
                            'like ["fr", "zh"]', code="unknown_language")
    languages = tuple(dict.fromkeys(code for code in wanted if code != spoken))
    reachable = request.app[SESSIONS].targets(spoken)
    missing = [code for code in languages if code not in reachable]
    if missing:
        raise ProtocolError(f'no installed translation package reaches {", ".join(missing)} from {spoken!r}; '
                            f'"languages" may hold {", ".join(reachable) or "none"} (GET /api/languages lists them)',
                            code="unknown_language")
    glossary = protocol.parse_glossary(body["glossary"]) if body.get("glossary") is not None else ()
    return languages, glossary


async def list_languages(request: web.Request) -> web.Response:
    """(staff) The languages a new session may be spoken in ("auto" first) and, per spoken language with
    any, the installed translation targets: what ``POST /api/sessions`` takes as ``languages``."""
    access.require_staff(request)
    sessions, spoken = request.app[SESSIONS], ("auto", *validate.SPOKEN_LANGUAGES)
    # The package registry may read its folder: off the event loop.
    found = await asyncio.get_running_loop().run_in_executor(
        None, lambda: {lang: reach for lang in spoken if (reach := sessions.targets(lang))})
    return web.json_response({"spoken": list(spoken), "targets": {k: list(v) for k, v in found.items()}})


async def export(request: web.Request) -> web.StreamResponse:
    access.require_staff(request)
    return await _stream_export(request, request.match_info["fmt"], FORMATS, staff=True)


async def transcript(request: web.Request) -> web.StreamResponse:
    """A delegate's download of a public session in their language."""
    access.require_reader(request, request.app[STORE].get_session(request.match_info["session"]))
    return await _stream_export(request, request.match_info["fmt"], PUBLIC_FORMATS, staff=False)


async def export_progress(request: web.Request) -> web.Response:
    """How far the export started with ``job=ID`` has come (see :class:`~assistant.export.progress.ProgressReport`)."""
    access.require_staff(request)
    job = request.match_info["job"]
    if not isinstance(request.app[LOG], LocalLog):
        raise NotFoundError(f"no export job {job!r}: a cluster's web node streams stored captions at once and "
                            "reports no progress")
    return web.json_response({"job": job, **request.app[EXPORT_JOBS].get(job).report().as_json()})


def _language(code: str, session: Session, name: str) -> str:
    return code if code == session.source_lang else validate.language(code, name)


def _languages_asked(request: web.Request, session: Session, fmt: str) -> list[str] | str | None:
    """The ``lang`` of one file, or the ``langs`` of a zip: a list, "all", or None for the default ones."""
    if fmt != ZIP:
        return [_language(request.query.get("lang") or session.source_lang, session, "lang")]
    langs = request.query.get("langs")
    if langs is None or not langs.strip():
        return None
    if langs.strip() == ALL_LANGUAGES:
        return ALL_LANGUAGES
    codes = list(dict.fromkeys(code.strip() for code in langs.split(",") if code.strip()))
    if len(codes) > MAX_ZIP_LANGUAGES:
        raise ProtocolError(f"langs names {len(codes)} languages; at most {MAX_ZIP_LANGUAGES}, or \"all\"",
                            code="unknown_language")
    return [_language(code, session, "each of langs") for code in codes]


@dataclass(frozen=True, slots=True)
class _Plan:
    langs: list[LanguagePlan]
    captions: int  # captions one pass over the languages writes
    translations: int  # captions still to translate


async def _stream_export(request: web.Request, fmt: str, allowed: tuple[str, ...], *, staff: bool) -> web.StreamResponse:
    if not isinstance(request.app[LOG], LocalLog):
        return await _stream_stored_export(request, fmt, allowed)
    store, jobs = request.app[STORE], request.app[EXPORT_JOBS]
    valid = (*allowed, ZIP) if allowed is FORMATS else allowed
    if fmt not in valid:
        raise ProtocolError(f"unknown export format {fmt!r}; use one of {', '.join(valid)}", code="bad_format")
    session = store.get_session(request.match_info["session"])
    asked = _languages_asked(request, session, fmt)
    job = request.query.get("job") if staff else None
    if job is not None:
        jobs.check_id(job)  # before any work
    translator = LoopTranslator(request.app[TRANSLATOR], asyncio.get_running_loop())
    if request.method == "HEAD":  # what a download would be, without making it (and without a lane)
        plan = _plan(store, session, asked, translator)
        return web.Response(headers=_headers(session, fmt, plan))
    async with request.app[EXPORTS].lane() as lane:
        plan = await lane.run(lambda: _plan(lane.store(), session, asked, translator))
        headers = _headers(session, fmt, plan)
        name = headers["Content-Disposition"]
        if not staff and plan.translations and jobs.public_translating >= MAX_PUBLIC_TRANSLATING:
            # Translating a long session is minutes of CPU beside the live captions: one delegate's at a time.
            raise ProtocolError("another transcript is being translated right now; try again in a minute",
                                code="busy")
        passes = len(FORMATS) if fmt == ZIP else 1
        progress = ExportProgress(fmt, [p.lang for p in plan.langs], captions_total=plan.captions * passes,
                                  translations_total=plan.translations)
        if job is not None:
            jobs.add(job, progress)
        public_slot = not staff and plan.translations > 0
        jobs.public_translating += public_slot
        chunks = await lane.run(_chunks, lane, session, fmt, plan.langs, translator, progress)
        response = web.StreamResponse(headers=headers)
        try:
            await response.prepare(request)
            while (chunk := await lane.run(next, chunks, None)) is not None:
                await response.write(chunk)
            await response.write_eof()
            progress.finish("done")
        except ConnectionError:  # the client left mid-download (reset, broken pipe): nothing went wrong
            log.debug("download of %s %s ended by the client", session.id, name)
            progress.finish("cancelled", "the client left")
        except BaseException as exc:
            gone = isinstance(exc, asyncio.CancelledError)
            progress.finish("cancelled" if gone else "failed",
                            str(exc) if isinstance(exc, AssistantError) else "the export failed; see the server log")
            raise
        finally:
            jobs.public_translating -= public_slot
            lane.finish(chunks)
        return response


async def _stream_stored_export(request: web.Request, fmt: str, allowed: tuple[str, ...]) -> web.StreamResponse:
    """A cluster's web node: the stored captions from the log (Redis), in stored languages only."""
    store = request.app[LOG]
    valid = (*allowed, ZIP) if allowed is FORMATS else allowed
    if fmt not in valid:
        raise ProtocolError(f"unknown export format {fmt!r}; use one of {', '.join(valid)}", code="bad_format")
    session = await store.get_session(request.match_info["session"])
    lang = _language(request.query.get("lang") or session.source_lang, session, "lang")
    stored = await store.languages(session.id)
    if fmt != ZIP and lang not in stored and lang != session.source_lang:
        raise NotFoundError(f"session {session.id!r} has no captions in {lang!r}; it has "
                            f"{', '.join(stored) or 'none yet'} (a cluster's web node exports the languages "
                            "made live only: it translates nothing on demand)")
    # One thread owns the export's database connection for its whole life: every step of the
    # generator and the final close run there, in order, even when the client goes away mid-way.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
    loop = asyncio.get_running_loop()
    reader = await loop.run_in_executor(worker, store.open_reader)
    chunks: Iterator[bytes] = iter(())
    try:
        if fmt == ZIP:
            chunks = zip_chunks(session, lambda l: reader.iter_captions(session.id, l),
                                reader.languages(session.id) or [session.source_lang])
            name = filename(session, None, ZIP)
        else:
            chunks = export_chunks(fmt, session, reader.iter_captions(session.id, lang), lang=lang)
            name = filename(session, lang, fmt)
        response = web.StreamResponse(headers={
            "Content-Type": content_type(fmt),
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        })
        await response.prepare(request)
        while (chunk := await loop.run_in_executor(worker, next, chunks, None)) is not None:
            await response.write(chunk)
        await response.write_eof()
        return response
    finally:
        worker.submit(_finish, chunks, reader)  # queued after any step still running
        worker.shutdown(wait=False)


def _headers(session: Session, fmt: str, plan: _Plan) -> dict[str, str]:
    name = filename(session, None, ZIP) if fmt == ZIP else filename(session, plan.langs[0].lang, fmt)
    return {"Content-Type": content_type(fmt), "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store"}


def _plan(reader: Store, session: Session, asked: list[str] | str | None, translator: LoopTranslator) -> _Plan:
    """Where each language comes from, and how much there is to do (planning reads and counts; it translates
    nothing, so the HEAD of a download plans on the event loop's connection)."""
    if asked is None:
        langs = default_languages(reader, session, translator)
    elif asked == ALL_LANGUAGES:
        langs = export_languages(reader, session, translator)
    else:
        langs = list(asked)
    plans = [plan_language(reader, session, lang, translator) for lang in langs]
    return _Plan(plans, *planned_counts(reader, session, plans, translator))


def _chunks(lane: Lane, session: Session, fmt: str, plans: list[LanguagePlan],
            translator: LoopTranslator, progress: ExportProgress) -> Iterator[bytes]:
    """The export's generator over its lane's connection (called on the lane's thread)."""
    reader = lane.store()
    by_lang = {p.lang: p for p in plans}
    questions = reader.questions.load(session.id)  # the floor's questions, listed after the captions
    speakers = reader.speakers.load(session.id)  # who spoke when: speaker turns in every format

    def captions_for(lang: str) -> Iterator[Caption]:
        return progress.counted(transcript_captions(reader, session, by_lang[lang], translator, progress), lang)

    if fmt == ZIP:
        return zip_chunks(session, captions_for, list(by_lang),
                          questions_for=lambda lang: entries_for(questions, lang), speakers=speakers)
    return export_chunks(fmt, session, captions_for(plans[0].lang), lang=plans[0].lang,
                         questions=entries_for(questions, plans[0].lang), speakers=speakers)


async def export_worker(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` (after the store's): the export worker, on the app's database."""
    limits = app[SETTINGS].limits
    worker = app[EXPORTS] = ExportWorker(app[STORE].path, size=limits.max_concurrent_exports,
                                         wait_s=limits.export_wait_s)
    await worker.open()
    yield
    await worker.close()


def _finish(chunks: Iterator[bytes], reader: ExportReader) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    reader.close()
