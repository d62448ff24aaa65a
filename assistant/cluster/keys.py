"""Where a cluster keeps things in Redis, and how values are written there.

Global keys::

    as:rooms                hash   session id → Session (JSON): every session ever made
    as:open                 set    session ids that are served now (workers host each one)
    as:tokens / as:keys     hash   role → token hash / session id → session key hash
    as:scoped               hash   token hash → a chair token of one room (ScopedToken JSON; revoked ones kept)
    as:sources              hash   session id → a recording its owner plays into the room
    as:workers / as:nodes   hash   worker / web node name → unix ms its heartbeat expires

Per room (``as:r:{sid}:``; the braces keep a room's keys in one Redis Cluster slot)::

    c:{lang}    stream  the caption log: entry id ``seq-0``, field ``c`` = the caption as first made (JSON)
    v:{lang}    hash    seq → the caption's current version, for captions corrected since
    vs:{lang}   zset    corrected seqs (score seq);   vt:{lang}  zset  seq scored by its last correction's ms
    ids         hash    "caption id|lang" → seq;       langs      set   languages with captions
    rev         stream  the correction audit trail (field ``r`` = Revision JSON)
    meta        hash    audio_end_ms, cmd (last command applied), audio (recognised-up-to checkpoint)
    state       string  what readers and consoles are shown about the room (JSON, by its owner)
    live        stream  published frames (t = topic, k = kind, q = seq or "", d = the encoded frame)
    cmd         stream  chair actions for the owner;   audio  stream  audio for the owner
    capture     hash    capture stream id → {"format", "received", "out", "started_ms", "ended"?} (resend
                        protocol state); "~current" → the stream that may write now
    lease       string  the owning worker's token (SET NX PX, renewed)
    parked      string  set while an ended room has no owner (its last owner let it go when it fell idle);
                        a chair's command or new audio deletes it, and a worker takes the room again
    readers     hash    "node|lang" → readers of that language on that web node
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..captions import Caption, Session
from ..store import ScopedToken

# What a Redis call raises while Redis cannot be reached (stopped, paused, restarting, the network).
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

ROOMS = "as:rooms"
OPEN = "as:open"
TOKENS = "as:tokens"
SESSION_KEYS = "as:keys"
SCOPED_TOKENS = "as:scoped"
SOURCES = "as:sources"  # session id → the recording its owner plays (a path every worker can read)
WORKERS = "as:workers"
NODES = "as:nodes"
REPLIES = "as:reply:"  # + web node name: pub/sub channel of command results
KEPT_REPLY = "as:kept:"  # + request id: a command's result, kept a minute (a published reply can be missed)
KEPT_REPLY_MS = 60_000


@dataclass(frozen=True, slots=True)
class RoomKeys:
    """The Redis key names of one room."""

    session: str

    def _k(self, name: str) -> str:
        return f"as:r:{{{self.session}}}:{name}"

    def captions(self, lang: str) -> str:
        return self._k(f"c:{lang}")

    def current(self, lang: str) -> str:
        return self._k(f"v:{lang}")

    def corrected(self, lang: str) -> str:
        return self._k(f"vs:{lang}")

    def corrected_at(self, lang: str) -> str:
        return self._k(f"vt:{lang}")

    @property
    def prefix(self) -> str:
        return self._k("")

    @property
    def ids(self) -> str:
        return self._k("ids")

    @property
    def langs(self) -> str:
        return self._k("langs")

    @property
    def revisions(self) -> str:
        return self._k("rev")

    @property
    def meta(self) -> str:
        return self._k("meta")

    @property
    def state(self) -> str:
        return self._k("state")

    @property
    def live(self) -> str:
        return self._k("live")

    @property
    def commands(self) -> str:
        return self._k("cmd")

    @property
    def audio(self) -> str:
        return self._k("audio")

    @property
    def capture(self) -> str:
        return self._k("capture")

    @property
    def lease(self) -> str:
        return self._k("lease")

    @property
    def parked(self) -> str:
        return self._k("parked")

    @property
    def readers(self) -> str:
        return self._k("readers")

    @property
    def screens(self) -> str:
        return self._k("screens")


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def caption_json(c: Caption) -> bytes:
    return dumps(dataclasses.asdict(c))


def caption_from(raw: bytes | str) -> Caption:
    return Caption(**json.loads(raw))


def session_json(s: Session) -> bytes:
    return dumps(dataclasses.asdict(s))


def session_from(raw: bytes | str) -> Session:
    d = json.loads(raw)
    d["languages"] = tuple(d["languages"])
    d["glossary"] = tuple(d["glossary"])
    return Session(**d)


def scoped_json(t: ScopedToken) -> bytes:
    return dumps(dataclasses.asdict(t))


def scoped_from(raw: bytes | str) -> ScopedToken:
    return ScopedToken(**json.loads(raw))


def text(value: object) -> str:
    """A Redis reply (bytes; str from a decoding client) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def entry_clock(entry_id: object) -> tuple[int, int]:
    """A stream entry id ``ms-n`` as numbers: Redis's clock when it took the entry, then its order within that ms."""
    ms, n = text(entry_id).split("-")
    return int(ms), int(n)


def seq_of(entry_id: object) -> int:
    """The seq of a caption log entry (its id is ``seq-0``)."""
    return int(text(entry_id).split("-", 1)[0])
