"""The wheel on its own: built from the tracked files, installed with its declared dependencies into a fresh
virtualenv outside the checkout, its ``assistant`` command starts and serves the pages from the package data.

Dependencies come from the package index or pip's cache; the project environment's versions are given as
constraints, so a warm cache installs them without a download (about a minute on 2 cores, mostly unpacking).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.test_server_crash import free_port

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parents[1]
BUILD_FILES = ("pyproject.toml", "README.md")
STEP_TIMEOUT_S = 400  # one pip step on a cold cache
READY_POLLS = 300  # 0.1 s apart: the dry-run server is up in a few seconds
STOP_TIMEOUT_S = 30


def clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without what would let the checkout or its venv leak into the test."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("ASSISTANT_")}
    return {**env, **extra}


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run([str(c) for c in command], cwd=cwd, env=clean_environment(), capture_output=True,
                          text=True, timeout=STEP_TIMEOUT_S, check=False)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    return done.stdout


def package_files() -> list[str]:
    """The package's tracked files (what a fresh clone builds from)."""
    listed = run("git", "ls-files", "-z", "assistant", cwd=ROOT)
    return [name for name in listed.split("\0") if name]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wheel")


@pytest.fixture(scope="module")
def wheel(work: Path) -> Path:
    source = work / "source"
    for name in [*BUILD_FILES, *package_files()]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", work / "dist", source)
    (built,) = (work / "dist").glob("assistant-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(work: Path, wheel: Path) -> Path:
    """A fresh virtualenv outside the checkout with the wheel and its dependencies; returns its bin folder."""
    # name==version lines only: pip refuses links (name @ file:...) as constraints.
    pinned = [line for line in run(sys.executable, "-m", "pip", "freeze", "--exclude-editable").splitlines()
              if "==" in line and " @ " not in line and not line.lower().startswith("assistant==")]
    constraints = work / "constraints.txt"
    constraints.write_text("\n".join(pinned) + "\n")
    run(sys.executable, "-m", "venv", work / "venv")
    run(work / "venv/bin/python", "-m", "pip", "install", "--quiet", "--constraint", constraints, wheel)
    return work / "venv/bin"


def project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        version: str = tomllib.load(fh)["project"]["version"]
    return version


def test_the_wheel_holds_every_package_file_with_the_pages_and_the_default_config(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"assistant/default.toml", "assistant/web/delegate.html", "assistant/web/static/delegate.js"} <= names
    assert sorted(set(package_files()) - names) == []


def test_the_installed_command_runs_from_anywhere(venv: Path, tmp_path: Path) -> None:
    assert run(venv / "assistant", "--version", cwd=tmp_path).strip() == f"assistant {project_version()}"
    found = run(venv / "python", "-c", "from assistant.server import pages; print(pages.WEB_DIR)", cwd=tmp_path)
    assert Path(found.strip()).is_relative_to(venv.parent)  # the installed copy, not the checkout


@pytest.fixture
def server(venv: Path, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes], Path]]:
    """``assistant serve --dry-run`` from the fresh venv, in a folder of its own; stopped with SIGTERM."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(venv / "assistant"), "serve", "--dry-run", "--host", "127.0.0.1", "--port", str(port), "--no-qr"],
            cwd=elsewhere, env=clean_environment(ASSISTANT_DATA_DIR=str(elsewhere / "data")),
            stdout=out, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}", proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=STOP_TIMEOUT_S)


async def test_the_installed_server_serves_the_pages(server: tuple[str, subprocess.Popen[bytes], Path]) -> None:
    url, proc, log = server
    async with aiohttp.ClientSession() as http:
        for _ in range(READY_POLLS):
            assert proc.poll() is None, f"the server exited:\n{log.read_text()[-4000:]}"
            try:
                async with http.get(f"{url}/healthz") as ready:
                    if ready.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                pass  # not listening yet
            await asyncio.sleep(0.1)
        for path, page in (("/", "index.html"), ("/s/main", "delegate.html")):
            async with http.get(url + path) as response:
                assert response.status == 200 and response.content_type == "text/html", path
                assert await response.read() == (ROOT / "assistant/web" / page).read_bytes()
        async with http.get(f"{url}/static/common.js") as response:
            assert response.status == 200
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=STOP_TIMEOUT_S) == 0, log.read_text()[-4000:]
    assert "Live captions are running" in log.read_text()
