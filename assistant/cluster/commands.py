"""Chair actions sent from a web node to the worker that owns the room, and the answers.

A command is an entry of the room's ``cmd`` stream: the action as JSON, the
web node to answer and a request id. The owner applies it (in stream order,
with its other work) and publishes the outcome on that node's reply channel:
the caption the action made, the room's snapshot after it, or the error it
raised (so the chair gets the same 400/404 as in one process). A command that
waited longer than its deadline (no worker held the room) is dropped unapplied:
the web node has answered 503 by then and the chair may send it again.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from .. import protocol
from ..captions import Caption
from ..errors import AssistantError, LanguageError, NotFoundError, ProtocolError, UnavailableError
from ..session.core import ChairAction, Correct
from .keys import caption_from, dumps


def encode_action(action: ChairAction) -> bytes:
    if isinstance(action, protocol.CaptionText):
        return dumps({"op": "caption_text", "text": action.text, "lang": action.lang})
    if isinstance(action, protocol.Control):
        return dumps({"op": "control", "action": action.action})
    if isinstance(action, protocol.UpdateSession):
        glossary = None if action.glossary is None else list(action.glossary)
        return dumps({"op": "update", "title": action.title, "glossary": glossary, "public": action.public})
    return dumps({"op": "correct", "versions": [asdict(v) for v in action.versions], "lang": action.lang,
                  "text": action.text, "author": action.author})


def decode_action(raw: bytes) -> ChairAction:
    d = json.loads(raw)
    op = d["op"]
    if op == "caption_text":
        return protocol.CaptionText(d["text"], d["lang"])
    if op == "control":
        return protocol.Control(d["action"])
    if op == "update":
        glossary = None if d["glossary"] is None else tuple(d["glossary"])
        return protocol.UpdateSession(d["title"], glossary, d["public"])
    return Correct(tuple(Caption(**v) for v in d["versions"]), d["lang"], d["text"], d["author"])


def reply_ok(rid: str, caption: Caption | None, snapshot: dict[str, Any]) -> bytes:
    return dumps({"rid": rid, "caption": None if caption is None else asdict(caption), "snapshot": snapshot})


def reply_error(rid: str, exc: AssistantError) -> bytes:
    available = list(exc.available) if isinstance(exc, LanguageError) else None
    kind = ("language" if isinstance(exc, LanguageError) else "not_found" if isinstance(exc, NotFoundError)
            else "protocol")
    return dumps({"rid": rid, "error": {"kind": kind, "code": exc.code, "message": str(exc), "available": available}})


def raise_if_error(reply: dict[str, Any]) -> None:
    """Raise, on the web node, the error the worker's core raised for this command."""
    err = reply.get("error")
    if err is None:
        return
    if err["kind"] == "language":
        raise LanguageError(err["message"], tuple(err["available"] or ()))
    if err["kind"] == "not_found":
        raise NotFoundError(err["message"])
    if err["code"] == UnavailableError.code:
        raise UnavailableError(err["message"])
    raise ProtocolError(err["message"], code=err["code"])


def reply_caption(reply: dict[str, Any]) -> Caption | None:
    raw = reply.get("caption")
    return None if raw is None else caption_from(dumps(raw))
