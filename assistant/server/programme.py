"""The conference programme over HTTP.

    GET  /api/programme     rooms (with the talk now on and the next), talks, the last import: public
    GET  /api/rooms/{room}              the room: the talk on now, the next, the past ones (a ``room`` frame)
    POST /api/rooms/{room}/next         (chair) end the talk on now, start the next one ("Next talk")
    POST /api/rooms/{room}/hold         (chair) {"hold": true}: the clock does not end the talk on; false: it does
    POST /api/programme     (staff) a programme file as the body (CSV, JSON or iCalendar); ?replace=1 to replace
                            the stored one, ?name=day.csv (tells the format), ?format=csv|json|ics,
                            ?timezone=Europe/Paris for times written without a zone. All or nothing: a bad file
                            is 400 ``bad_programme`` with ``problems`` [{line, field, message}]; an imported one
                            lists ``warnings`` of the same form (languages no installed package reaches)

A cluster's web nodes refuse both (``unsupported``): the programme lives in one
server's SQLite file, and a cluster's rooms are leased by workers that do not read it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from ..errors import ProtocolError
from ..programme import FORMATS, Problem, Programme, ProgrammeError, Talk, parse, zone
from . import access
from .boundary import json_body, json_error
from .keys import CLOCK, SESSIONS, STORE, TALKS, TRANSLATOR
from .translation import targets_of
from .sessions import Sessions
from .talks import TalkRooms

MAX_NAME_CHARS = 200
MAX_PROBLEMS_SENT = 200  # problems listed in a 400 (a wholly wrong file of 2,000 rows has thousands)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/programme", get_programme)
    app.router.add_post("/api/programme", post_programme)
    app.router.add_get("/api/rooms/{room}", get_room)
    app.router.add_post("/api/rooms/{room}/next", post_next)
    app.router.add_post("/api/rooms/{room}/hold", post_hold)


def require_one_server(request: web.Request, feature: str = "the conference programme") -> None:
    """Refuse the programme's features on a cluster's web node, clearly (docs/scaling.md)."""
    if not isinstance(request.app[SESSIONS], Sessions):
        raise ProtocolError(f"{feature} runs on a single server (assistant serve without --role); "
                            "a cluster does not offer it yet", code="unsupported")


async def get_programme(request: web.Request) -> web.Response:
    require_one_server(request)
    store = request.app[STORE]
    programme = store.programme.load()
    body = programme_json(programme, request.app[CLOCK].now_ms(), access.public_url(request), request.app[TALKS])
    info = store.programme.last_import()
    body["imported"] = None if info is None else {"at_ms": info.at_ms, "source": info.source}
    return web.json_response(body, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def programme_json(programme: Programme, now_ms: int, base: str, talks: TalkRooms) -> dict[str, Any]:
    """The programme as ``GET /api/programme`` gives it: each room with the talk on now and the next one."""
    rooms = []
    for room in programme.rooms:
        now = talks.current(room.id)
        upcoming = talks.upcoming(room.id)
        rooms.append({"id": room.id, "name": room.name, "url": f"{base}/r/{room.id}",
                      "now": now.id if now else None, "next": upcoming.id if upcoming else None})
    return {"rooms": rooms, "talks": [talk_json(t, base) for t in programme.talks], "now_ms": now_ms}


def talk_json(talk: Talk, base: str) -> dict[str, Any]:
    return {**talk.as_json(), "url": f"{base}/s/{talk.id}"}


async def post_programme(request: web.Request) -> web.Response:
    access.require_staff(request)
    require_one_server(request)
    query = request.query
    name = query.get("name") or "upload"
    if len(name) > MAX_NAME_CHARS:
        raise ProtocolError(f"name is longer than {MAX_NAME_CHARS} characters")
    fmt = query.get("format") or None
    if fmt is not None and fmt not in FORMATS:
        raise ProtocolError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}", code="bad_format")
    tz = query.get("timezone") or None
    if tz is not None:
        try:
            zone(tz)
        except ValueError as exc:
            raise ProtocolError(f"timezone: {exc}") from None
    replace = query.get("replace", "0") in ("1", "true", "yes")
    data = await request.read()
    try:
        programme = parse(data, name=name, fmt=fmt, default_tz=tz)
    except ProgrammeError as exc:
        return json_error(400, exc.code, str(exc), problems=[p.as_json() for p in exc.problems[:MAX_PROBLEMS_SENT]],
                          problems_total=len(exc.problems))
    try:
        request.app[STORE].programme.replace(programme, source=name, at_ms=request.app[CLOCK].now_ms(),
                                             replace=replace)
    except ProgrammeError as exc:  # a talk's id is another session's
        return json_error(400, exc.code, str(exc), problems=[p.as_json() for p in exc.problems[:MAX_PROBLEMS_SENT]],
                          problems_total=len(exc.problems))
    request.app[TALKS].tick()  # the rooms follow the new programme now
    warnings = await _unreachable(request, programme)
    return web.json_response({"rooms": len(programme.rooms), "talks": len(programme.talks),
                              "warnings": [w.as_json() for w in warnings[:MAX_PROBLEMS_SENT]]}, status=201)


async def _unreachable(request: web.Request, programme: Programme) -> list[Problem]:
    """Languages a talk always produces that no installed package reaches: imported, but said (their readers
    would get the spoken original, marked)."""
    translator = request.app.get(TRANSLATOR)
    wanted = {t.language for t in programme.talks if t.languages}
    if translator is None or not wanted:
        return []
    # The package registry may read its folder: off the event loop.
    reach = await asyncio.get_running_loop().run_in_executor(
        None, lambda: {spoken: set(targets_of(translator, spoken)) for spoken in wanted})
    out = []
    for t in programme.talks:
        missing = [code for code in t.languages if code not in reach[t.language]]
        if missing:
            out.append(Problem(t.line, "languages", f"no installed translation package reaches {', '.join(missing)} "
                                                    f"from {t.language!r}: readers of {t.title!r} in "
                                                    f"{'it' if len(missing) == 1 else 'them'} get the original "
                                                    "(`assistant languages add` installs one)"))
    return out


async def get_room(request: web.Request) -> web.Response:
    require_one_server(request)
    return _room_response(request)


async def post_next(request: web.Request) -> web.Response:
    """The chair's "Next talk": the talk on ends now (late, for an overrun) and the next one starts now."""
    require_one_server(request)
    room = request.match_info["room"]
    _require_room_chair(request, room)
    request.app[TALKS].next_talk(room)
    return _room_response(request)


async def post_hold(request: web.Request) -> web.Response:
    require_one_server(request)
    room = request.match_info["room"]
    _require_room_chair(request, room)
    body = await json_body(request)
    held = body.get("hold")
    if not isinstance(held, bool):
        raise ProtocolError('"hold" must be true (the clock does not end the talk on) or false')
    request.app[TALKS].hold(room, held)
    return _room_response(request)


def _require_room_chair(request: web.Request, room: str) -> None:
    talks = request.app[TALKS]
    talks.audio(room)  # NotFoundError for a room not in the programme
    on = talks.current(room)
    access.require_chair_of(request, [room] + ([on.id] if on is not None else []),
                            f"the chair token, or a chair token of room {room!r} or of its talk on now")


def _room_response(request: web.Request) -> web.Response:
    state = request.app[TALKS].state(request.match_info["room"])
    return web.json_response(state, dumps=lambda o: json.dumps(o, ensure_ascii=False))
