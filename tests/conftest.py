"""Shared fixtures: settings on temporary SQLite files, a controllable clock, app clients."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings, load
from assistant.clock import Clock

CHAIR = "chair-token-for-tests"
STAFF = "staff-token-for-tests"


class ManualClock:
    """Wall time that tests move by hand (unix ms)."""

    def __init__(self, start_ms: int = 1_750_000_000_000) -> None:
        self.ms = start_ms

    def now(self) -> int:
        return self.ms

    @property
    def clock(self) -> Clock:
        return Clock(now_ms=self.now)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    base = load(None, {"ASSISTANT_CHAIR_TOKEN": CHAIR, "ASSISTANT_STAFF_TOKEN": STAFF,
                       "ASSISTANT_DATA_DIR": str(tmp_path / "data")})
    return dataclasses.replace(base, sessions=(dataclasses.replace(base.sessions[0], source="none"),))


def bearer(token: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}"}
