"""Chair tokens of one room on a cluster: kept in Redis (``as:scoped``), so every web node accepts them.

The web node that creates a room with ``"chair_token": true`` stores its token there, and so does
``assistant tokens issue`` on a machine whose configuration names the cluster's Redis; ``list`` and
``revoke`` read and change the same hash. Web nodes copy it into their in-memory store at every poll
(:meth:`~assistant.cluster.registry.RemoteRooms.refresh`, each second): a new token works on every node,
and a revoked one stops working everywhere, within a second. Only hashes are kept, as in SQLite.

:class:`RedisTokens` is a :class:`~assistant.server.auth.TokenBook`, as the SQLite store is: the command
line and :func:`assistant.server.auth.issue_scoped` use either.
"""

from __future__ import annotations

import redis

from ..errors import StoreError
from ..store import ScopedToken
from .keys import SCOPED_TOKENS, TOKENS, scoped_from, scoped_json, text


class RedisTokens:
    """The cluster's tokens (the chair and staff tokens, and rooms' own chair tokens), through a blocking
    Redis client."""

    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    def set_token_hash(self, role: str, digest: str, at_ms: int) -> None:
        """A new chair or staff token for every node (``assistant tokens rotate``)."""
        self._redis.hset(TOKENS, role, digest)

    def add_scoped_token(self, token_id: str, digest: str, role: str, session_id: str, at_ms: int) -> None:
        self._redis.hset(SCOPED_TOKENS, digest, scoped_json(ScopedToken(token_id, role, session_id, at_ms, None)))

    def scoped_tokens(self, session_id: str | None = None) -> list[ScopedToken]:
        """Every token (of one session, if given), revoked ones included, oldest first."""
        tokens = [scoped_from(raw) for raw in self._all().values()]
        return sorted((t for t in tokens if session_id in (None, t.session)), key=lambda t: (t.created_at_ms, t.id))

    def revoke_scoped_tokens(self, *, token_id: str | None = None, session_id: str | None = None,
                             at_ms: int) -> int:
        """Revoke the token ``token_id``, or every token of ``session_id``; return how many were live."""
        if (token_id is None) == (session_id is None):
            raise StoreError("revoke one token (by id) or the tokens of one session, not both or neither")
        revoked = {}
        for digest, raw in self._all().items():
            t = scoped_from(raw)
            if t.revoked_at_ms is None and (t.id == token_id or t.session == session_id):
                revoked[digest] = scoped_json(ScopedToken(t.id, t.role, t.session, t.created_at_ms, at_ms))
        with self._redis.pipeline() as pipe:
            for digest, value in revoked.items():
                pipe.hset(SCOPED_TOKENS, digest, value)
            pipe.execute()
        return len(revoked)

    def _all(self) -> dict[str, bytes | str]:
        return {text(k): v for k, v in self._redis.hgetall(SCOPED_TOKENS).items()}
