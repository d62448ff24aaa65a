"""PackageRegistry: installing .argosmodel files, routes, and the index download path.

The packages here are test-only cipher packages (tests/helpers/argos_builder.py):
valid Argos packages whose output is gibberish, never a translation.
"""

from __future__ import annotations

import http.server
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.errors import LanguageError, TranslationPackageError
from assistant.translate.packages import PackageRegistry, Route
from tests.helpers.argos_builder import TinyPackage, tiny_package_files

UNREACHABLE_INDEX = "http://127.0.0.1:9/index.json"  # discard port: nothing listens


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], TinyPackage]:
    return tiny_package_files(tmp_path_factory)


def test_install_file_lists_the_pair(tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path) -> None:
    registry = PackageRegistry(tmp_path / "packages")
    assert registry.installed() == []
    pair = registry.install_file(tiny[("en", "fr")].path)
    assert (pair.source, pair.target) == ("en", "fr")
    assert pair.model_path.joinpath("model.bin").is_file()
    assert [(p.source, p.target) for p in registry.installed()] == [("en", "fr")]
    assert not [p for p in (tmp_path / "packages").iterdir() if p.name.startswith(".")]


def test_reinstalling_a_pair_replaces_it(tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path) -> None:
    registry = PackageRegistry(tmp_path)
    first = registry.install_file(tiny[("en", "fr")].path)
    (first.path / "marker").write_text("old")
    second = registry.install_file(tiny[("en", "fr")].path)
    assert second.path == first.path and not (second.path / "marker").exists()
    assert len(registry.installed()) == 1


def test_a_second_registry_sees_packages_installed_by_another(
    tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path
) -> None:
    server_side, cli_side = PackageRegistry(tmp_path), PackageRegistry(tmp_path)
    cli_side.install_file(tiny[("en", "fr")].path)
    assert server_side.targets("en") == ("fr",)
    cli_side.install_file(tiny[("en", "de")].path)
    cli_side.install_file(tiny[("en", "fr")].path)  # reinstall: same folder name, new folder
    assert server_side.targets("en") == ("de", "fr")
    assert server_side.find("en", "fr").path.is_dir()


def test_routes_direct_and_through_english(
    tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path
) -> None:
    registry = PackageRegistry(tmp_path)
    for pair in [("fr", "en"), ("en", "de"), ("en", "es"), ("en", "fr")]:
        registry.install_file(tiny[pair].path)
    assert registry.routes("fr") == {
        "de": Route("fr", "de", via="en"),
        "en": Route("fr", "en"),
        "es": Route("fr", "es", via="en"),
    }
    assert registry.routes("fr")["de"].hops == (("fr", "en"), ("en", "de"))
    assert registry.targets("en") == ("de", "es", "fr")
    assert registry.routes("zh") == {}
    assert registry.sources() == ("en", "fr")


def test_find_unknown_pair_lists_direct_targets(
    tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path
) -> None:
    registry = PackageRegistry(tmp_path)
    registry.install_file(tiny[("en", "fr")].path)
    with pytest.raises(LanguageError) as caught:
        registry.find("en", "ja")
    assert caught.value.available == ("fr",)
    assert "assistant languages add" in str(caught.value)


def _rezip(source: Path, destination: Path, *, drop: str = "", extra: str = "") -> Path:
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(destination, "w") as dst:
        for item in src.infolist():
            if drop and item.filename.endswith(drop):
                continue
            dst.writestr(item, src.read(item))
        if extra:
            dst.writestr(extra, b"x")
    return destination


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda src, d: d.joinpath("x.argosmodel").write_bytes(b"not a zip") and d / "x.argosmodel",
         "not a zip"),
        (lambda src, d: d.joinpath("t.argosmodel").write_bytes(src.read_bytes()[:5000]) and d / "t.argosmodel",
         "not a zip"),
        (lambda src, d: _rezip(src, d / "m.argosmodel", drop="metadata.json"), "metadata.json"),
        (lambda src, d: _rezip(src, d / "b.argosmodel", drop="model.bin"), "model.bin"),
        (lambda src, d: _rezip(src, d / "s.argosmodel", drop="sentencepiece.model"), "sentencepiece"),
        (lambda src, d: _rezip(src, d / "z.argosmodel", extra="../evil.txt"), "top folder"),
        (lambda src, d: d / "absent.argosmodel", "does not exist"),
    ],
    ids=["not-zip", "truncated", "no-metadata", "no-model", "no-tokenizer", "zip-slip", "missing"],
)
def test_install_file_refuses_broken_packages(
    tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path, make: object, message: str
) -> None:
    broken = make(tiny[("en", "fr")].path, tmp_path)  # type: ignore[operator]
    registry = PackageRegistry(tmp_path / "packages")
    with pytest.raises(TranslationPackageError, match=message) as caught:
        registry.install_file(broken)
    assert "assistant languages add" in str(caught.value) or "path of a .argosmodel" in str(caught.value)
    assert registry.installed() == []


def test_corrupt_metadata_json_is_reported(tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path) -> None:
    bad = tmp_path / "bad.argosmodel"
    with zipfile.ZipFile(tiny[("en", "fr")].path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = b"{broken" if item.filename.endswith("metadata.json") else src.read(item)
            dst.writestr(item, data)
    with pytest.raises(TranslationPackageError, match="not valid JSON"):
        PackageRegistry(tmp_path / "p").install_file(bad)


def test_index_unreachable_says_no_internet_and_how_to_copy(tmp_path: Path) -> None:
    registry = PackageRegistry(tmp_path, index_url=UNREACHABLE_INDEX, index_timeout_s=5)
    with pytest.raises(TranslationPackageError) as caught:
        registry.install_from_index("en", ["es"])
    text = str(caught.value)
    assert "127.0.0.1:9" in text and "no internet" in text and ".argosmodel" in text


class _Files(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture()
def local_index(tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path) -> Iterator[str]:
    """An Argos-style index served on 127.0.0.1, listing the test-only packages."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Files(*a, directory=str(root))
    )
    base = f"http://127.0.0.1:{server.server_address[1]}"
    entries = []
    for (source, target), package in tiny.items():
        (root / package.path.name).write_bytes(package.path.read_bytes())
        entries.append({"from_code": source, "to_code": target, "package_version": "0.0",
                        "links": [f"{base}/missing.argosmodel", f"{base}/{package.path.name}"]})
    entries.append({"type": "sbd", "from_code": "en", "links": []})
    (root / "index.json").write_text(json.dumps(entries))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"{base}/index.json"
    server.shutdown()
    server.server_close()
    thread.join()


def test_install_from_index_direct_and_pivot(local_index: str, tmp_path: Path) -> None:
    registry = PackageRegistry(tmp_path / "packages", index_url=local_index)
    installed = registry.install_from_index("en", ["fr", "de"])
    assert [(p.source, p.target) for p in installed] == [("en", "fr"), ("en", "de")]
    # fr→es has no direct package: fr→en and en→es are installed instead.
    registry.install_from_index("fr", ["es"])
    assert registry.routes("fr")["es"] == Route("fr", "es", via="en")


def test_install_from_index_unknown_pair_lists_offered_targets(local_index: str, tmp_path: Path) -> None:
    registry = PackageRegistry(tmp_path, index_url=local_index)
    with pytest.raises(TranslationPackageError) as caught:
        registry.install_from_index("en", ["ja"])
    assert "de, es, fr" in str(caught.value)
    assert registry.installed() == []
