"""Sessions and transcript exports.

    GET  /api/sessions                                   public sessions; all of them with the staff token
    POST /api/sessions                                   (staff) create a session, public or with a key
    GET  /api/sessions/{session}/export.{fmt}?lang=L     (staff) srt, vtt, txt, json, docx
    GET  /api/sessions/{session}/export.zip              (staff) every language in every format
    GET  /api/sessions/{session}/transcript.{fmt}?lang=L a session's transcript (srt, vtt, txt): public,
                                                         or with ?key= (or a chair/staff token) when private

Exports stream: a generator of chunks is stepped through in a worker thread
with its own database connection, so a 10-hour session never sits in memory
and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import json
from typing import Any, Iterator

from aiohttp import web

from ..captions import Session
from ..config import LANG_RE, SESSION_ID_RE
from ..errors import AuthError, NotFoundError, ProtocolError
from ..export import FORMATS, ZIP, content_type, export_chunks, filename, zip_chunks
from ..store.log import ExportReader
from . import access, auth
from .boundary import json_body
from .keys import CLOCK, LOG, SESSIONS, STORE

PUBLIC_FORMATS = ("srt", "vtt", "txt")


async def list_sessions(request: web.Request) -> web.Response:
    store, sessions = request.app[LOG], request.app[SESSIONS]
    staff = access.is_staff(request)
    base = access.public_url(request)
    out: list[dict[str, Any]] = []
    for s in await store.list_sessions():
        runtime = sessions.find(s.id)
        if not staff and (runtime is None or not s.public):
            continue
        item: dict[str, Any] = runtime.snapshot() if runtime is not None else {
            "id": s.id, "title": s.title, "source_lang": s.source_lang, "state": "ended", "readers": {},
            "languages": [s.source_lang], "started_at": s.started_at_ms, "public": s.public}
        item["url"] = f"{base}/s/{s.id}"
        if staff:
            item["stored_languages"] = await store.languages(s.id)
            item["captions"] = {lang: await store.count_captions(s.id, lang) for lang in item["stored_languages"]}
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
    runtime = await sessions.create(Session(id=sid, title=title, source_lang=lang,
                                    created_at_ms=request.app[CLOCK].now_ms(), public=public))
    if not public and key is None:
        key = auth.new_session_key()  # shown once, in this response
    await sessions.set_access(sid, public=public, key=key or "")
    out = runtime.snapshot()
    out["url"] = f"{access.public_url(request)}/s/{sid}{auth.join_query(key)}"
    if key is not None:
        out["key"] = key
    return web.json_response(out, status=201)


async def export(request: web.Request) -> web.StreamResponse:
    access.require(request, "staff")
    return await _stream_export(request, request.match_info["fmt"], FORMATS)


async def transcript(request: web.Request) -> web.StreamResponse:
    """A delegate's download of a public session in their language."""
    access.require_reader(request, request.app[STORE].get_session(request.match_info["session"]))
    return await _stream_export(request, request.match_info["fmt"], PUBLIC_FORMATS)


async def _stream_export(request: web.Request, fmt: str, allowed: tuple[str, ...]) -> web.StreamResponse:
    store = request.app[LOG]
    valid = (*allowed, ZIP) if allowed is FORMATS else allowed
    if fmt not in valid:
        raise ProtocolError(f"unknown export format {fmt!r}; use one of {', '.join(valid)}", code="bad_format")
    session = await store.get_session(request.match_info["session"])
    lang = request.query.get("lang") or session.source_lang
    if lang != "auto" and not LANG_RE.match(lang):
        raise ProtocolError(f"lang must be a language code like \"en\", not {lang[:20]!r}", code="unknown_language")
    stored = await store.languages(session.id)
    if fmt != ZIP and lang not in stored and lang != session.source_lang:
        raise NotFoundError(f"session {session.id!r} has no captions in {lang!r}; it has "
                            f"{', '.join(stored) or 'none yet'}")
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


def _finish(chunks: Iterator[bytes], reader: ExportReader) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    reader.close()
