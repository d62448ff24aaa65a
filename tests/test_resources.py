"""The pages and the embedded config are package data: found without the source tree, even from a zip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from assistant.config import DEFAULT_CONFIG
from assistant.server.pages import WEB_DIR

PACKAGE = Path(__file__).resolve().parents[1] / "assistant"

PROBE = """
import json, assistant, assistant.config
from assistant.server import pages
print(json.dumps({
    "package": assistant.__file__,
    "web": str(pages.WEB_DIR),
    "pages": sorted(p.name for p in pages.WEB_DIR.glob("*.html")),
    "static": (pages.WEB_DIR / "static" / "common.js").is_file(),
    "port": assistant.config.load(None, {}).server.port,
}))
"""


def test_the_pages_and_the_default_config_are_inside_the_package() -> None:
    assert WEB_DIR == PACKAGE / "web"  # a checkout or editable install: the folder itself, no copy
    assert (WEB_DIR / "delegate.html").is_file() and (WEB_DIR / "static" / "delegate.js").is_file()
    assert DEFAULT_CONFIG.is_file() and "[server]" in DEFAULT_CONFIG.read_text(encoding="utf-8")


def test_a_package_imported_from_a_zip_serves_its_pages_from_a_copy(tmp_path: Path) -> None:
    archive = tmp_path / "assistant.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(PACKAGE.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(PACKAGE.parent).as_posix())
    env = {**os.environ, "PYTHONPATH": str(archive)}
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["package"].startswith(str(archive))  # the zip, not the checkout or an editable install
    assert found["pages"] == sorted(p.name for p in WEB_DIR.glob("*.html")) and found["static"]
    assert found["port"] == 8080
    assert not Path(found["web"]).exists()  # the temporary copy is gone once the process exits
