"""Sessions and transcript exports.

    GET  /api/sessions                                   public sessions; all of them with the staff token
    POST /api/sessions                                   (staff) create a session, public or with a key,
                                                         optionally with a chair token for it alone
    GET  /api/sessions/{session}/export.{fmt}?lang=L     (staff) srt, vtt, txt, json, docx
    GET  /api/sessions/{session}/export.zip              (staff) every language in every format
    GET  /api/sessions/{session}/transcript.{fmt}?lang=L a session's transcript (srt, vtt, txt): public,
                                                         or with ?key= (or a chair/staff token) when private

Exports stream: a generator of chunks is stepped through on the export worker's
thread and connection (:mod:`.exports`), so a 10-hour session never sits in
memory and never blocks the event loop; at most ``limits.max_concurrent_exports``
stream at once. A HEAD request gets the headers only and runs nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any, AsyncIterator, Iterator

from aiohttp import web

from .. import protocol, validate
from ..captions import Session
from ..errors import NotFoundError, ProtocolError
from ..export import FORMATS, ZIP, content_type, export_chunks, filename, zip_chunks
from . import access, auth
from .boundary import json_body
from .exports import ExportWorker
from .keys import CLOCK, EXPORTS, SESSIONS, SETTINGS, STORE

log = logging.getLogger(__name__)

PUBLIC_FORMATS = ("srt", "vtt", "txt")


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
            item["captions"] = {lang: store.count_captions(s.id, lang) for lang in item["stored_languages"]}
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
    lang = validate.language(body.get("language", "en"), '"language"', allow_auto=True)
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
        raise ProtocolError(f"session {sid!r} exists already, and a POST does not change it: change its title, "
                            f"privacy or key with PATCH /api/sessions/{sid} (chair token), or pick another id",
                            code="exists")
    now = request.app[CLOCK].now_ms()
    session = store.create_session(Session(id=sid, title=title, source_lang=lang, created_at_ms=now,
                                           public=public), via="api")
    if not public and key is None:
        key = auth.new_session_key()  # shown once, in this response
    if key is not None:
        store.set_session_key_hash(sid, auth.hash_session_key(key), now)
    runtime = sessions.open(session)
    out = runtime.snapshot()
    out["url"] = f"{base}/s/{sid}{auth.join_query(key)}"
    if key is not None:
        out["key"] = key
    if chair_token:
        out["chair_token_id"], out["chair_token"] = auth.issue_scoped(store, "chair", sid, now)  # shown once
    return web.json_response(out, status=201)


async def export(request: web.Request) -> web.StreamResponse:
    access.require_staff(request)
    return await _stream_export(request, request.match_info["fmt"], FORMATS)


async def transcript(request: web.Request) -> web.StreamResponse:
    """A delegate's download of a public session in their language."""
    access.require_reader(request, request.app[STORE].get_session(request.match_info["session"]))
    return await _stream_export(request, request.match_info["fmt"], PUBLIC_FORMATS)


async def _stream_export(request: web.Request, fmt: str, allowed: tuple[str, ...]) -> web.StreamResponse:
    store = request.app[STORE]
    valid = (*allowed, ZIP) if allowed is FORMATS else allowed
    if fmt not in valid:
        raise ProtocolError(f"unknown export format {fmt!r}; use one of {', '.join(valid)}", code="bad_format")
    session = store.get_session(request.match_info["session"])
    lang = request.query.get("lang") or session.source_lang
    if lang != session.source_lang:
        validate.language(lang, "lang")
    if fmt != ZIP and lang not in store.languages(session.id) and lang != session.source_lang:
        raise NotFoundError(f"session {session.id!r} has no captions in {lang!r}; it has "
                            f"{', '.join(store.languages(session.id)) or 'none yet'}")
    name = filename(session, None, ZIP) if fmt == ZIP else filename(session, lang, fmt)
    headers = {"Content-Type": content_type(fmt), "Content-Disposition": f'attachment; filename="{name}"',
               "Cache-Control": "no-store"}
    if request.method == "HEAD":
        return web.Response(headers=headers)  # what a download would be, without making it
    worker = request.app[EXPORTS]
    async with worker.gate.place():
        chunks = await worker.run(_chunks, worker, fmt, session, lang)
        response = web.StreamResponse(headers=headers)
        try:
            await response.prepare(request)
            while (chunk := await worker.run(next, chunks, None)) is not None:
                await response.write(chunk)
            await response.write_eof()
        except ConnectionError:  # the client left mid-download (reset, broken pipe): nothing went wrong
            log.debug("download of %s %s ended by the client", session.id, name)
        finally:
            worker.finish(chunks)
        return response


def _chunks(worker: ExportWorker, fmt: str, session: Session, lang: str) -> Iterator[bytes]:
    """The export's generator over the worker's connection (called on the worker thread)."""
    reader = worker.store()
    if fmt == ZIP:
        return zip_chunks(session, lambda l: reader.iter_captions(session.id, l),
                          reader.languages(session.id) or [session.source_lang])
    return export_chunks(fmt, session, reader.iter_captions(session.id, lang), lang=lang)


async def export_worker(app: web.Application) -> AsyncIterator[None]:
    """``cleanup_ctx`` (after the store's): the export worker, on the app's database."""
    limits = app[SETTINGS].limits
    worker = app[EXPORTS] = ExportWorker(app[STORE].path, size=limits.max_concurrent_exports,
                                         wait_s=limits.export_wait_s)
    await worker.run(worker.store)  # opened now: a database that cannot be read fails the start, not a download
    yield
    await worker.close()
