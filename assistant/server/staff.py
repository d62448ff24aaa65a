"""Sessions and transcript exports.

    GET  /api/sessions                                   public sessions; all of them with the staff token
    POST /api/sessions                                   (staff) create a session, public or with a key
    GET  /api/sessions/{session}/export.{fmt}?lang=L     (staff) srt, vtt, txt, json, docx; &job=ID to follow it
    GET  /api/sessions/{session}/export.zip?langs=L,M    (staff) those languages (or "all") in every format
    GET  /api/sessions/{session}/transcript.{fmt}?lang=L a session's transcript (srt, vtt, txt): public,
                                                         or with ?key= (or a chair/staff token) when private
    GET  /api/exports/{job}                              (staff) how far the export started with job=ID has come

Exports stream: a generator of chunks is stepped through in a worker thread
with its own database connection, so a 10-hour session never sits in memory
and never blocks the event loop. A language nobody read live is translated as
the file streams (:mod:`assistant.export.ondemand`): the worker thread waits
for each batch while the app's translation service runs it on the loop, and
the translations are kept, so the next export of that language translates nothing.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
import json
from typing import Any, Iterator

from aiohttp import web

from ..captions import Caption, Session
from ..config import LANG_RE, SESSION_ID_RE
from ..errors import AssistantError, ProtocolError
from ..export import FORMATS, ZIP, content_type, export_chunks, filename, zip_chunks
from ..export.ondemand import (LanguagePlan, default_languages, export_languages, plan_language, planned_counts,
                               transcript_captions)
from ..export.progress import ExportProgress
from ..export.translating import LoopTranslator
from ..store import Store
from . import access, auth
from .boundary import json_body
from .jobs import MAX_PUBLIC_TRANSLATING
from .keys import CLOCK, EXPORT_JOBS, SESSIONS, STORE, TRANSLATOR

PUBLIC_FORMATS = ("srt", "vtt", "txt")
ALL_LANGUAGES = "all"
MAX_ZIP_LANGUAGES = 64  # languages one zip may name (Argos reaches a few dozen)


async def list_sessions(request: web.Request) -> web.Response:
    store, sessions = request.app[STORE], request.app[SESSIONS]
    staff = access.is_staff(request)
    base = access.public_url(request)
    out: list[dict[str, Any]] = []
    for s in store.list_sessions():
        runtime = sessions.find(s.id)
        if not staff and (runtime is None or not s.public):
            continue
        item: dict[str, Any] = runtime.snapshot() if runtime is not None else {
            "id": s.id, "title": s.title, "source_lang": s.source_lang, "state": "ended", "readers": {},
            "languages": [s.source_lang], "started_at": s.started_at_ms, "public": s.public}
        item["url"] = f"{base}/s/{s.id}"
        if staff:
            item["stored_languages"] = store.languages(s.id)
            # Also those nobody read live: translated when exported.
            item["export_languages"] = export_languages(store, s, LoopTranslator(request.app[TRANSLATOR],
                                                                                 asyncio.get_running_loop()))
            item["captions"] = {lang: store.count_captions(s.id, lang) for lang in item["stored_languages"]}
            item["ended_at"] = s.ended_at_ms
        out.append(item)
    return web.json_response({"sessions": out}, dumps=lambda o: json.dumps(o, ensure_ascii=False))


async def create_session(request: web.Request) -> web.Response:
    access.require(request, "staff")
    sessions = request.app[SESSIONS]
    body = await json_body(request)
    sid = body.get("id")
    if not isinstance(sid, str) or not SESSION_ID_RE.match(sid):
        raise ProtocolError('"id" must be lower-case letters, digits, "-" or "_" (at most 63)')
    lang = body.get("language", "en")
    if not isinstance(lang, str) or (lang != "auto" and not LANG_RE.match(lang)):
        raise ProtocolError('"language" must be a language code like "en", or "auto"', code="unknown_language")
    title = body.get("title") or sid
    if not isinstance(title, str) or len(title) > 200:
        raise ProtocolError('"title" must be a string of at most 200 characters')
    key = body.get("key")
    if key is not None:
        key = auth.valid_session_key(key)
    public = body.get("public", key is None)
    if not isinstance(public, bool):
        raise ProtocolError('"public" must be true or false')
    if public and key is not None:
        raise ProtocolError('a public session takes no "key"; send "public": false with it, or drop the key')
    if sid in sessions:
        raise ProtocolError(f"session {sid!r} exists already", code="exists")
    runtime = sessions.open(Session(id=sid, title=title, source_lang=lang,
                                    created_at_ms=request.app[CLOCK].now_ms(), public=public))
    if not public and key is None:
        key = auth.new_session_key()  # shown once, in this response
    sessions.set_access(sid, public=public, key=key or "")
    out = runtime.snapshot()
    out["url"] = f"{access.public_url(request)}/s/{sid}{auth.join_query(key)}"
    if key is not None:
        out["key"] = key
    return web.json_response(out, status=201)


async def export(request: web.Request) -> web.StreamResponse:
    access.require(request, "staff")
    return await _stream_export(request, request.match_info["fmt"], FORMATS, staff=True)


async def transcript(request: web.Request) -> web.StreamResponse:
    """A delegate's download of a public session in their language."""
    access.require_reader(request, request.app[STORE].get_session(request.match_info["session"]))
    return await _stream_export(request, request.match_info["fmt"], PUBLIC_FORMATS, staff=False)


async def export_progress(request: web.Request) -> web.Response:
    """How far the export started with ``job=ID`` has come (see :class:`~assistant.export.progress.ProgressReport`)."""
    access.require(request, "staff")
    job = request.match_info["job"]
    return web.json_response({"job": job, **request.app[EXPORT_JOBS].get(job).report().as_json()})


def _language(code: str, session: Session, name: str) -> str:
    if code != session.source_lang and not LANG_RE.match(code):
        raise ProtocolError(f"{name} must be a language code like \"en\", not {code[:20]!r}", code="unknown_language")
    return code


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


def _plan(reader: Store, session: Session, asked: list[str] | str | None, translator: LoopTranslator) -> _Plan:
    """Where each language comes from, and how much there is to do (on the export's worker thread)."""
    if asked is None:
        langs = default_languages(reader, session, translator)
    elif asked == ALL_LANGUAGES:
        langs = export_languages(reader, session, translator)
    else:
        langs = list(asked)
    plans = [plan_language(reader, session, lang, translator) for lang in langs]
    return _Plan(plans, *planned_counts(reader, session, plans))


async def _stream_export(request: web.Request, fmt: str, allowed: tuple[str, ...], *, staff: bool) -> web.StreamResponse:
    store, jobs = request.app[STORE], request.app[EXPORT_JOBS]
    valid = (*allowed, ZIP) if allowed is FORMATS else allowed
    if fmt not in valid:
        raise ProtocolError(f"unknown export format {fmt!r}; use one of {', '.join(valid)}", code="bad_format")
    session = store.get_session(request.match_info["session"])
    asked = _languages_asked(request, session, fmt)
    job = request.query.get("job") if staff else None
    if job is not None:
        jobs.check_id(job)  # before any work
    loop = asyncio.get_running_loop()
    translator = LoopTranslator(request.app[TRANSLATOR], loop)
    # One thread owns the export's database connection for its whole life: every step of the
    # generator and the final close run there, in order, even when the client goes away mid-way.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="export")
    reader = await loop.run_in_executor(worker, Store.open, store.path)
    chunks: Iterator[bytes] = iter(())
    progress: ExportProgress | None = None
    public_slot = False
    try:
        plan = await loop.run_in_executor(worker, _plan, reader, session, asked, translator)
        if not staff and plan.translations:
            # Translating a long session is minutes of CPU beside the live captions: one delegate's at a time.
            if jobs.public_translating >= MAX_PUBLIC_TRANSLATING:
                raise ProtocolError("another transcript is being translated right now; try again in a minute",
                                    code="busy")
            jobs.public_translating += 1
            public_slot = True
        passes = len(FORMATS) if fmt == ZIP else 1
        progress = ExportProgress(fmt, [p.lang for p in plan.langs], captions_total=plan.captions * passes,
                                  translations_total=plan.translations)
        if job is not None:
            jobs.add(job, progress)
        chunks = _chunks(reader, session, fmt, plan.langs, translator, progress)
        name = filename(session, None, ZIP) if fmt == ZIP else filename(session, plan.langs[0].lang, fmt)
        response = web.StreamResponse(headers={
            "Content-Type": content_type(fmt),
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        })
        await response.prepare(request)
        while (chunk := await loop.run_in_executor(worker, next, chunks, None)) is not None:
            await response.write(chunk)
        await response.write_eof()
        progress.finish("done")
        return response
    except BaseException as exc:
        if progress is not None:
            gone = isinstance(exc, (asyncio.CancelledError, ConnectionError))
            progress.finish("cancelled" if gone else "failed",
                            str(exc) if isinstance(exc, AssistantError) else "the export failed; see the server log")
        raise
    finally:
        if public_slot:
            jobs.public_translating -= 1
        worker.submit(_finish, chunks, reader)  # queued after any step still running
        worker.shutdown(wait=False)


def _chunks(reader: Store, session: Session, fmt: str, plans: list[LanguagePlan], translator: LoopTranslator,
            progress: ExportProgress) -> Iterator[bytes]:
    by_lang = {p.lang: p for p in plans}

    def captions_for(lang: str) -> Iterator[Caption]:
        return progress.counted(transcript_captions(reader, session, by_lang[lang], translator, progress), lang)

    if fmt == ZIP:
        return zip_chunks(session, captions_for, list(by_lang))
    return export_chunks(fmt, session, captions_for(plans[0].lang), lang=plans[0].lang)


def _finish(chunks: Iterator[bytes], reader: Store) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    reader.close()
