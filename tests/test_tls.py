"""HTTPS for the chair's microphone: a self-signed certificate made once, or the user's own."""

from __future__ import annotations

import dataclasses
import ssl
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError
from assistant.server.tls import ensure_certificate


def test_self_signed_certificate_is_made_once_and_loads(settings: Settings) -> None:
    cert, key = ensure_certificate(settings)
    assert cert.is_file() and key.is_file() and (key.stat().st_mode & 0o077) == 0
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    before = cert.read_bytes()
    assert ensure_certificate(settings) == (cert, key) and cert.read_bytes() == before


def test_user_certificate_paths_must_exist(settings: Settings, tmp_path: Path) -> None:
    server = dataclasses.replace(settings.server, tls=True, tls_cert=str(tmp_path / "missing.crt"),
                                 tls_key=str(tmp_path / "missing.key"))
    with pytest.raises(ConfigError, match="server.tls_cert"):
        ensure_certificate(dataclasses.replace(settings, server=server))
