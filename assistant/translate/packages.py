"""Installed Argos Translate packages: list, validate, install, and route between languages.

An Argos package is a zip (``.argosmodel``) of one folder holding ``metadata.json``
(``from_code``, ``to_code``, ...), a CTranslate2 model in ``model/`` and a tokenizer
(``sentencepiece.model`` or ``bpe.model``). Installed packages are folders under
``packages_dir``.

This module reads those folders itself instead of calling ``argostranslate.package``:
that module imports ``argostranslate.settings`` (which creates folders in the
user's home at import time and fixes the packages folder once per process), its
``install_from_path`` imports ``argostranslate.translate`` (stanza, torch) and its
index reader recurses forever when offline. The file format is the same.

Create one ``PackageRegistry`` per packages folder and share it; ``installed()``
re-reads package metadata only when the folder's entries changed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from assistant.errors import LanguageError, TranslationPackageError
from assistant.translate import index

PIVOT_LANGUAGE = "en"  # Argos packages are mostly to/from English
METADATA_FILE = "metadata.json"
MODEL_FOLDER = "model"
SENTENCEPIECE_FILE = "sentencepiece.model"
BPE_FILE = "bpe.model"


@dataclass(frozen=True, slots=True)
class PairInfo:
    """One installed package: a direct translation from ``source`` to ``target``."""

    source: str
    target: str
    source_name: str
    target_name: str
    version: str
    path: Path  # the installed package folder
    target_prefix: str = ""  # token the decoder must start with (multilingual models)

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FOLDER


@dataclass(frozen=True, slots=True)
class Route:
    """How to reach ``target`` from ``source``: directly, or through ``via``."""

    source: str
    target: str
    via: str | None = None

    @property
    def hops(self) -> tuple[tuple[str, str], ...]:
        """The direct pairs to run, in order."""
        if self.via is None:
            return ((self.source, self.target),)
        return ((self.source, self.via), (self.via, self.target))


def _fail(where: str, problem: str) -> TranslationPackageError:
    return TranslationPackageError(
        f"{where} is not a usable Argos Translate package: {problem}. "
        "Get a fresh .argosmodel file (https://www.argosopentech.com/argospm/index/) "
        "and install it with `assistant languages add FILE.argosmodel`."
    )


def _parse_metadata(raw: bytes | str, where: str) -> dict[str, object]:
    try:
        metadata = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise _fail(where, f"{METADATA_FILE} is not valid JSON ({exc})") from exc
    if not isinstance(metadata, dict):
        raise _fail(where, f"{METADATA_FILE} is not a JSON object")
    for key in ("from_code", "to_code"):
        if not isinstance(metadata.get(key), str) or not metadata[key]:
            raise _fail(where, f"{METADATA_FILE} has no '{key}'")
    return metadata


def _pair_from_folder(folder: Path) -> PairInfo:
    where = f"Package folder {folder}"
    metadata = _parse_metadata((folder / METADATA_FILE).read_bytes(), where)
    if not (folder / MODEL_FOLDER / "model.bin").is_file():
        raise _fail(where, f"{MODEL_FOLDER}/model.bin is missing")
    if not ((folder / SENTENCEPIECE_FILE).is_file() or (folder / BPE_FILE).is_file()):
        raise _fail(where, f"neither {SENTENCEPIECE_FILE} nor {BPE_FILE} is present")
    return PairInfo(
        source=str(metadata["from_code"]),
        target=str(metadata["to_code"]),
        source_name=str(metadata.get("from_name", "")),
        target_name=str(metadata.get("to_name", "")),
        version=str(metadata.get("package_version", "")),
        path=folder,
        target_prefix=str(metadata.get("target_prefix", "")),
    )


def _check_archive(archive: zipfile.ZipFile, where: str) -> str:
    """Return the package's single top folder; refuse unsafe or incomplete archives."""
    names = archive.namelist()
    tops = {PurePosixPath(name).parts[0] for name in names if name.strip("/")}
    if len(tops) != 1:
        raise _fail(where, f"expected one top folder in the zip, found {sorted(tops)}")
    top = tops.pop()
    for name in names:
        parts = PurePosixPath(name).parts
        if name.startswith("/") or ".." in parts:
            raise _fail(where, f"unsafe path {name!r} in the zip")
    required = (f"{top}/{METADATA_FILE}", f"{top}/{MODEL_FOLDER}/model.bin")
    for name in required:
        if name not in names:
            raise _fail(where, f"{name} is missing from the zip")
    if not {f"{top}/{SENTENCEPIECE_FILE}", f"{top}/{BPE_FILE}"} & set(names):
        raise _fail(where, f"neither {SENTENCEPIECE_FILE} nor {BPE_FILE} is in the zip")
    return top


class PackageRegistry:
    """The Argos packages installed in one folder.

    Call ``installed()``/``routes()`` whenever needed (cheap: re-reads metadata only after the
    folder changed), ``install_file()`` for a copied .argosmodel, and
    ``install_from_index()`` on a machine with internet.
    """

    def __init__(
        self,
        packages_dir: Path,
        *,
        index_url: str = index.DEFAULT_INDEX_URL,
        index_timeout_s: float = index.DEFAULT_TIMEOUT_S,
    ) -> None:
        self.packages_dir = packages_dir
        self.index_url = index_url
        self.index_timeout_s = index_timeout_s
        self._lock = threading.Lock()
        self._scanned_key: tuple[tuple[str, int], ...] | None = None
        self._pairs: list[PairInfo] = []

    def installed(self) -> list[PairInfo]:
        """All installed pairs, sorted by (source, target); [] when the folder is absent."""
        if not self.packages_dir.is_dir():
            return []
        # A folder's mtime can miss two changes within one clock tick, so the
        # cache key is each entry's name and inode (a reinstall makes a new one).
        # Dot-folders are installs in progress.
        folders = [f for f in sorted(self.packages_dir.iterdir()) if not f.name.startswith(".")]
        key = tuple((f.name, f.stat().st_ino) for f in folders)
        with self._lock:
            if key != self._scanned_key:
                pairs = [
                    _pair_from_folder(folder)
                    for folder in folders
                    if (folder / METADATA_FILE).is_file()
                ]
                self._pairs = sorted(pairs, key=lambda p: (p.source, p.target))
                self._scanned_key = key
            return list(self._pairs)

    def find(self, source: str, target: str) -> PairInfo:
        """The installed package for exactly source→target, or LanguageError."""
        for pair in self.installed():
            if (pair.source, pair.target) == (source, target):
                return pair
        direct = tuple(p.target for p in self.installed() if p.source == source)
        raise LanguageError(
            f"No package translates directly from '{source}' to '{target}'"
            f" (direct targets from '{source}': {', '.join(direct) or 'none'}). "
            f"Install one with `assistant languages add FILE.argosmodel`.",
            available=direct,
        )

    def sources(self) -> tuple[str, ...]:
        """Languages that at least one installed package translates from."""
        return tuple(sorted({p.source for p in self.installed()}))

    def routes(self, source: str) -> dict[str, Route]:
        """Every target reachable from source: directly, else through English."""
        pairs = {(p.source, p.target) for p in self.installed()}
        found = {t: Route(source, t) for s, t in pairs if s == source and t != source}
        if (source, PIVOT_LANGUAGE) in pairs:
            for s, t in sorted(pairs):
                if s == PIVOT_LANGUAGE and t != source and t not in found:
                    found[t] = Route(source, t, via=PIVOT_LANGUAGE)
        return dict(sorted(found.items()))

    def targets(self, source: str) -> tuple[str, ...]:
        """The keys of ``routes(source)``, sorted."""
        return tuple(self.routes(source))

    def install_file(self, path: Path) -> PairInfo:
        """Validate and install one .argosmodel file; replaces a package for the same pair.

        Raises TranslationPackageError (saying what is wrong) for a missing, corrupt
        or incomplete file.
        """
        where = f"File {path}"
        if not path.is_file():
            raise TranslationPackageError(
                f"{where} does not exist. Give the path of a .argosmodel file."
            )
        if not zipfile.is_zipfile(path):
            raise _fail(where, "it is not a zip archive (truncated or wrong file?)")
        self.packages_dir.mkdir(parents=True, exist_ok=True)
        try:
            with zipfile.ZipFile(path) as archive:
                top = _check_archive(archive, where)
                _parse_metadata(archive.read(f"{top}/{METADATA_FILE}"), where)
                bad = archive.testzip()
                if bad is not None:
                    raise _fail(where, f"{bad} is corrupt inside the zip")
                staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=self.packages_dir))
                try:
                    archive.extractall(staging)
                    pair = _pair_from_folder(staging / top)
                    self._replace(staging / top, pair)
                finally:
                    shutil.rmtree(staging, ignore_errors=True)
        except (zipfile.BadZipFile, EOFError, zlib.error) as exc:
            raise _fail(where, f"it cannot be read ({exc})") from exc
        return self.find(pair.source, pair.target)

    def _replace(self, folder: Path, pair: PairInfo) -> None:
        # Move the new package in before deleting the old one, so a failure
        # leaves a working install behind.
        destination = self.packages_dir / folder.name
        old = [
            p.path for p in self.installed() if (p.source, p.target) == (pair.source, pair.target)
        ]
        if destination.exists():
            old_copy = destination.with_name(f".old-{destination.name}")
            shutil.rmtree(old_copy, ignore_errors=True)
            destination.rename(old_copy)
            old = [old_copy if p == destination else p for p in old] + [old_copy]
        folder.rename(destination)
        for stale in set(old):
            if stale != destination:
                shutil.rmtree(stale, ignore_errors=True)

    def install_from_index(self, source: str, targets: list[str]) -> list[PairInfo]:
        """Download and install source→target packages from the Argos index (needs internet).

        A target with no direct package is installed as source→en + en→target when
        the index has both. Raises TranslationPackageError when the index is
        unreachable (with how to copy a .argosmodel file instead) or lacks a pair.
        """
        entries = index.fetch_index(self.index_url, self.index_timeout_s)
        available = {(e.source, e.target): e for e in entries}
        wanted: list[index.IndexEntry] = []
        for target in targets:
            direct = available.get((source, target))
            hops = [
                available.get((source, PIVOT_LANGUAGE)),
                available.get((PIVOT_LANGUAGE, target)),
            ]
            if direct is not None:
                wanted.append(direct)
            elif all(hop is not None for hop in hops):
                wanted.extend(hop for hop in hops if hop is not None)
            else:
                offered = sorted({t for s, t in available if s == source})
                raise TranslationPackageError(
                    f"The Argos index at {self.index_url} has no package from '{source}' "
                    f"to '{target}', directly or through English. Targets it offers from "
                    f"'{source}': {', '.join(offered) or 'none'}."
                )
        installed: list[PairInfo] = []
        with tempfile.TemporaryDirectory(prefix="argos-download-") as tmp:
            for entry in dict.fromkeys(wanted):
                file = index.download(entry, Path(tmp), self.index_timeout_s)
                installed.append(self.install_file(file))
        return installed
