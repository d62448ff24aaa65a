"""The Argos Translate package index: fetch it and download packages (needs internet).

Only ``PackageRegistry.install_from_index`` calls this. Every network failure
becomes a TranslationPackageError that says how to install offline instead.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import TranslationPackageError

DEFAULT_INDEX_URL = "https://raw.githubusercontent.com/argosopentech/argospm-index/main/index.json"
DEFAULT_TIMEOUT_S = 20.0
USER_AGENT = "assistant-captions (Argos package index client)"
OFFLINE_HELP = (
    "This machine seems to have no internet access. On a machine that has, download "
    "the .argosmodel file (https://www.argosopentech.com/argospm/index/), copy it here "
    "and run `assistant languages add FILE.argosmodel`."
)


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One package offered by the index."""

    source: str
    target: str
    version: str
    links: tuple[str, ...]

    @property
    def file_name(self) -> str:
        return f"translate-{self.source}_{self.target}-{self.version.replace('.', '_')}.argosmodel"


def _get(url: str, timeout_s: float, what: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            data: bytes = response.read()
            return data
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the open response; closing avoids a leaked socket
        raise TranslationPackageError(
            f"Cannot download {what} from {url}: HTTP {exc.code} {exc.reason}. "
            "Check the index URL, or install a copied file with "
            "`assistant languages add FILE.argosmodel`."
        ) from exc
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as exc:
        raise TranslationPackageError(
            f"Cannot download {what} from {url} ({exc}). {OFFLINE_HELP}"
        ) from exc


def fetch_index(url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[IndexEntry]:
    """Download and parse the index; only translation packages are returned."""
    raw = _get(url, timeout_s, "the Argos package index")
    try:
        items = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TranslationPackageError(
            f"The Argos package index at {url} is not valid JSON ({exc}). "
            "Check the index URL, or install a copied file with "
            "`assistant languages add FILE.argosmodel`."
        ) from exc
    if not isinstance(items, list):
        raise TranslationPackageError(
            f"The Argos package index at {url} is not a JSON list. Check the index URL."
        )
    entries = []
    for item in items:
        if not isinstance(item, dict) or item.get("type", "translate") != "translate":
            continue
        source, target, links = item.get("from_code"), item.get("to_code"), item.get("links")
        if isinstance(source, str) and isinstance(target, str) and isinstance(links, list):
            entries.append(
                IndexEntry(
                    source=source,
                    target=target,
                    version=str(item.get("package_version", "")),
                    links=tuple(str(link) for link in links),
                )
            )
    return entries


def download(entry: IndexEntry, folder: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> Path:
    """Download entry's .argosmodel into folder (first link that works) and return its path."""
    if not entry.links:
        raise TranslationPackageError(
            f"The index lists no download link for {entry.source}→{entry.target}. {OFFLINE_HELP}"
        )
    failure: TranslationPackageError | None = None
    for link in entry.links:
        try:
            data = _get(link, timeout_s, f"the {entry.source}→{entry.target} package")
        except TranslationPackageError as exc:
            failure = exc
            continue
        path = folder / entry.file_name
        path.write_bytes(data)
        return path
    assert failure is not None
    raise failure
