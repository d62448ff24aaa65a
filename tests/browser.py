"""A small driver for headless Chromium over the DevTools protocol, for the page tests.

``Chromium`` starts the browser process (no event loop needed, so one process
can serve every test); ``connect()`` opens a DevTools connection in the
current loop; ``DevTools.new_page()`` gives a ``Page`` that can navigate,
evaluate JavaScript, wait for a condition and take screenshots. ``serve()``
runs an aiohttp app on 127.0.0.1 on a free port for the browser to load.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from websockets.asyncio.client import ClientConnection, connect as ws_connect

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT_S = 20
DEFAULT_TIMEOUT_S = 10
POLL_S = 0.05
PHONE = (360, 640)
DESKTOP = (1280, 800)


class BrowserError(AssertionError):
    """The page or the browser did not do what a test waited for."""


def chromium_path() -> str:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise BrowserError("Chromium is not installed; `apt-get install chromium` (the page tests need it)")


class Chromium:
    """One headless Chromium process with a throwaway profile; ``stop()`` ends it and removes the profile."""

    def __init__(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="pages-chromium-"))
        self.downloads = self.profile / "downloads"
        self.downloads.mkdir()
        self.log = open(self.profile / "stderr.log", "wb")
        args = [
            chromium_path(), "--headless=new", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
            f"--user-data-dir={self.profile}", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--disable-sync", "--disable-dev-shm-usage",
            "--disable-component-update", "--mute-audio", "--hide-scrollbars",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            "--autoplay-policy=no-user-gesture-required", "about:blank",
        ]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.log)
        self.ws_url = self._wait_for_endpoint()

    def _wait_for_endpoint(self) -> str:
        port_file = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrowserError(f"Chromium exited with {self.process.returncode}; see {self.profile}/stderr.log")
            with contextlib.suppress(FileNotFoundError, ValueError):
                lines = port_file.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{int(lines[0])}{lines[1]}"
            time.sleep(POLL_S)
        raise BrowserError(f"Chromium did not open its DevTools port within {START_TIMEOUT_S} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)


class DevTools:
    """A DevTools protocol connection to the browser; pages are flattened sessions on it."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._pages: dict[str, Page] = {}
        self.events: list[dict[str, Any]] = []
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = json.loads(raw)
            if "id" in msg:
                fut = self._pending.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            elif "sessionId" in msg and msg["sessionId"] in self._pages:
                self._pages[msg["sessionId"]].on_event(msg["method"], msg.get("params", {}))
            else:
                self.events.append(msg)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(BrowserError("the DevTools connection closed"))

    async def send(self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None,
                   timeout: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
        msg_id = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session_id:
            msg["sessionId"] = session_id
        await self._ws.send(json.dumps(msg))
        async with asyncio.timeout(timeout):
            reply = await fut
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def new_page(self, size: tuple[int, int] = DESKTOP, *, mobile: bool = False) -> "Page":
        target = await self.send("Target.createTarget", {"url": "about:blank"})
        attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
        page = Page(self, target["targetId"], attached["sessionId"])
        self._pages[page.session_id] = page
        await page.call("Runtime.enable")
        await page.call("Page.enable")
        await page.resize(*size, mobile=mobile)
        return page

    async def allow_downloads(self, folder: Path) -> None:
        await self.send("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder),
                                                        "eventsEnabled": True})

    async def close(self) -> None:
        for page in list(self._pages.values()):
            with contextlib.suppress(BrowserError, TimeoutError):
                await self.send("Target.closeTarget", {"targetId": page.target_id})
        await self._ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)


@contextlib.asynccontextmanager
async def connect(browser: Chromium) -> AsyncIterator[DevTools]:
    ws = await ws_connect(browser.ws_url, max_size=64 * 1024 * 1024, ping_interval=None)
    tools = DevTools(ws)
    try:
        yield tools
    finally:
        await tools.close()


class Page:
    """One tab. ``errors`` collects uncaught exceptions and console errors of the page."""

    def __init__(self, tools: DevTools, target_id: str, session_id: str) -> None:
        self.tools = tools
        self.target_id = target_id
        self.session_id = session_id
        self.errors: list[str] = []
        self.console: list[str] = []

    def on_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            self.errors.append(str(details.get("exception", {}).get("description") or details.get("text")))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append(f"{params.get('type')}: {text}")
            if params.get("type") == "error":
                self.errors.append(text)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.tools.send(method, params, self.session_id)

    async def resize(self, width: int, height: int, *, mobile: bool = False) -> None:
        await self.call("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    async def goto(self, url: str, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        reply = await self.call("Page.navigate", {"url": url})
        if reply.get("errorText"):
            raise BrowserError(f"navigating to {url}: {reply['errorText']}")
        await self.wait_for("document.readyState === 'complete'", timeout=timeout)
        # The pages wire their controls once their interface language is loaded (I18N.ready; the
        # page stays hidden until then): a test acting before that would act on a page no person sees.
        await self.evaluate("window.I18N && window.I18N.ready"
                            " ? window.I18N.ready.then(() => true, () => true) : true", timeout=timeout)

    async def evaluate(self, expression: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        """Evaluate ``expression`` (awaiting a promise) as if from a user gesture; return its JSON value."""
        reply = await self.tools.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True, "awaitPromise": True, "userGesture": True,
        }, self.session_id, timeout=timeout)
        if "exceptionDetails" in reply:
            details = reply["exceptionDetails"]
            raise BrowserError(f"{expression!r} threw: "
                               f"{details.get('exception', {}).get('description') or details.get('text')}")
        return reply.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float = DEFAULT_TIMEOUT_S) -> Any:
        """Poll until ``expression`` is truthy; return its value, or fail saying what was awaited."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            with contextlib.suppress(BrowserError):
                last = await self.evaluate(expression)
                if _truthy(last):
                    return last
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out after {timeout} s waiting for {expression!r} (last: {last!r}); "
                                   f"page errors: {self.errors}")
            await asyncio.sleep(POLL_S)

    async def click(self, selector: str) -> None:
        found = await self.evaluate(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                                    f"if(!e)return false;e.click();return true;}})()")
        if not found:
            raise BrowserError(f"nothing matches {selector!r} to click")

    async def text(self, selector: str) -> str:
        value = await self.evaluate(f"(function(){{var e=document.querySelector({json.dumps(selector)});"
                                    f"return e?e.innerText:null;}})()")
        if value is None:
            raise BrowserError(f"nothing matches {selector!r}")
        return str(value)

    async def screenshot(self, path: Path) -> Path:
        # A page behind others gets no new frames, and capturing it can wait for one forever
        # (a CI run timed out on the second of three pages): show it first.
        await self.call("Page.bringToFront")
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def _truthy(value: Any) -> bool:
    """JavaScript truthiness of a returned value (an element comes back as {}, which JS counts as true)."""
    return value is not None and value is not False and value != 0 and value != ""


def screenshot_dir(default: Path) -> Path:
    """Where tests put screenshots: $PAGES_SCREENSHOTS if set (to look at them), else ``default``."""
    return Path(os.environ.get("PAGES_SCREENSHOTS") or default)


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on 127.0.0.1 on a free port; yield its base URL."""
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Chromium]:
    """One headless Chromium per test module (import this fixture into the module)."""
    browser = Chromium()
    try:
        yield browser
    finally:
        browser.stop()


@contextlib.asynccontextmanager
async def page_session(browser: Chromium) -> AsyncIterator[DevTools]:
    """A DevTools connection for one test; closes its tabs afterwards."""
    async with connect(browser) as tools:
        yield tools
