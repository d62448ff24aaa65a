"""`assistant tokens` on a cluster's Redis (``--redis`` or cluster.redis_url), against a real redis-server.
That web nodes take these changes is tests/test_cluster.py's (a room's own chair token, issued and revoked)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from assistant import cli
from assistant.cluster.keys import SCOPED_TOKENS, TOKENS, scoped_from
from assistant.server import auth
from tests.helpers.redis_server import free_port, redis_server


def run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
        *args: str, url: str | None = None) -> tuple[int, str, str]:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    if url is not None:
        monkeypatch.setenv("ASSISTANT_REDIS_URL", url)  # as on a node configured for the cluster
    code = cli.main(["tokens", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_tokens_issued_rotated_and_revoked_in_the_cluster_s_redis(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with redis_server(tmp_path / "redis") as url:
        r = redis.Redis.from_url(url)
        code, out, err = run(monkeypatch, capsys, tmp_path, "issue", "chair", "--session", "hall-b", url=url)
        token = out.split()[-1]
        assert code == 0 and "no session 'hall-b' yet" in err
        stored = scoped_from(r.hget(SCOPED_TOKENS, auth.hash_token(token)) or b"null")
        assert (stored.role, stored.session, stored.revoked_at_ms) == ("chair", "hall-b", None)
        assert token not in str(r.hgetall(SCOPED_TOKENS))  # only its hash is kept

        code, out, err = run(monkeypatch, capsys, tmp_path, "rotate", "staff", url=url)
        assert code == 0 and r.hget(TOKENS, "staff") == auth.hash_token(out.split()[-1]).encode()
        assert "ASSISTANT_STAFF_TOKEN" in err  # a node configured with its own sets that one again at its start

        assert run(monkeypatch, capsys, tmp_path, "revoke", "--session", "hall-b", url=url)[0] == 0
        assert scoped_from(r.hget(SCOPED_TOKENS, auth.hash_token(token)) or b"null").revoked_at_ms is not None
        code, out, err = run(monkeypatch, capsys, tmp_path, "revoke", stored.id, url=url)
        assert code == 1 and "nothing to revoke" in err
        assert not (tmp_path / "data").exists()  # the machine's own database was left alone
        r.close()


def test_an_unreachable_redis_is_a_clear_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    code, out, err = run(monkeypatch, capsys, tmp_path, "list", "--redis", url)
    assert code == 1 and f"cannot reach the cluster's Redis at {url}" in err and "Traceback" not in err
