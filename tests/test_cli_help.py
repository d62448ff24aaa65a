"""``assistant --version`` and ``--help``: every command and every option says what it does."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.cli import build_parser, main

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def project_version() -> str:
    with PYPROJECT.open("rb") as fh:
        version: str = tomllib.load(fh)["project"]["version"]
    return version


def undocumented(parser: argparse.ArgumentParser, path: str) -> Iterator[str]:
    """Every option, argument and sub-command under ``parser`` that has no help text."""
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if not helps.get(name):
                    yield f"{path} {name}"
                yield from undocumented(sub, f"{path} {name}")
        elif not action.help or action.help == argparse.SUPPRESS:
            yield f"{path} {'/'.join(action.option_strings) or action.dest}"


def test_every_command_and_option_has_help_text() -> None:
    assert list(undocumented(build_parser(), "assistant")) == []


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"assistant {project_version()}"


def test_help_shows_where_config_goes() -> None:
    done = subprocess.run([sys.executable, "-m", "assistant", "--help"], capture_output=True, text=True,
                          timeout=60, check=True)
    assert "assistant --config my.toml serve" in " ".join(done.stdout.split())
