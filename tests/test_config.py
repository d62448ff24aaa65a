"""Settings: defaults, user file, environment; wrong keys and values fail with their names."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from assistant.config import DEFAULT_CONFIG, SessionSettings, Settings, load
from assistant.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my.toml"
    path.write_text(text)
    return path


def test_defaults_are_the_embedded_file() -> None:
    s = load(None, {})
    assert s.server.port == 8080 and s.asr.model == "base"
    assert [x.id for x in s.sessions] == ["main"] and s.sessions[0].language == "en"


def test_user_file_overrides_and_environment_wins(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 9000\n[[sessions]]\nid = "hall-b"\nlanguage = "ru"\n'
                           'languages = ["en", "zh"]\nglossary = ["CRISPR"]\n')
    s = load(path, {"ASSISTANT_PORT": "9100", "ASSISTANT_MODEL": "tiny.en"})
    assert s.server.port == 9100 and s.server.host == "0.0.0.0" and s.asr.model == "tiny.en"
    assert [(x.id, x.language, x.languages, x.glossary) for x in s.sessions] == [
        ("hall-b", "ru", ("en", "zh"), ("CRISPR",))]


@pytest.mark.parametrize("text, needle", [
    ("[server]\nprot = 1\n", "server.prot"),
    ("[server]\nport = \"eighty\"\n", "server.port"),
    ("[servr]\n", "servr"),
    ("[limits]\nclient_queue = 2\n", "limits.client_queue"),
    ("[[sessions]]\ntitle = \"no id\"\n", "sessions[0]"),
    ("[[sessions]]\nid = \"Bad Id\"\n", "sessions[0].id"),
    ("[[sessions]]\nid = \"a\"\nlanguage = \"english\"\n", "sessions[0].language"),
    ("[[sessions]]\nid = \"a\"\n[[sessions]]\nid = \"a\"\n", "unique"),
    ("[asr]\ncpu_threads = true\n", "asr.cpu_threads"),
    ("[asr]\npasses_in_flight = 0\n", "asr.passes_in_flight"),
    ("not toml = = =", "not valid TOML"),
])
def test_wrong_keys_and_values_name_the_key(tmp_path: Path, text: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        load(write(tmp_path, text), {})
    assert needle in str(info.value)


def test_missing_file_and_bad_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "nope.toml", {})
    with pytest.raises(ConfigError, match="ASSISTANT_PORT"):
        load(None, {"ASSISTANT_PORT": "http"})


def test_the_dataclass_defaults_are_the_embedded_file() -> None:
    """default.toml documents every key and its default; the dataclasses must say the same."""
    raw = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    from_file, built_in = load(None, {}), Settings()
    for section in dataclasses.fields(Settings):
        if section.name == "sessions":
            continue
        fields = {f.name for f in dataclasses.fields(getattr(built_in, section.name))}
        assert set(raw[section.name]) == fields, f"[{section.name}] in default.toml lists other keys"
        assert getattr(from_file, section.name) == getattr(built_in, section.name), section.name
    # The example session shows every key; its values (title "Main hall") are an example, not defaults.
    assert set(raw["sessions"][0]) == {f.name for f in dataclasses.fields(SessionSettings)}
