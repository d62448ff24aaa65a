"""Settings: one frozen value, made by the pure function :func:`load`.

``load(path, environ)`` reads the embedded ``assistant/default.toml``, overlays the
user's file (if any) and then the environment. It creates nothing and reads no
global state, so tests call it with a dict for ``environ``. A misspelt key or a
value of the wrong type raises :class:`ConfigError` naming the key.

``default.toml`` is the documented source of every default; the dataclass
defaults below repeat its values (for code that builds settings without a file)
and tests/test_config.py checks that the two agree key by key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from . import validate
from .errors import ConfigError
from .validate import LANG_RE, SESSION_ID_RE  # noqa: F401  (re-exported: older imports name them here)

# Read through importlib.resources so it is found in a wheel, a pipx venv or a zip as well as a checkout.
DEFAULT_CONFIG = resources.files("assistant") / "default.toml"
ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """``[server]``: where to listen, the public address, TLS and which origins and proxies to trust."""

    host: str = "0.0.0.0"
    port: int = 8080
    public_url: str = ""
    tls: bool = False
    tls_cert: str = ""
    tls_key: str = ""
    allowed_origins: tuple[str, ...] = ()
    trusted_proxies: tuple[str, ...] = ()
    frame_ancestors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """``[storage]``: the data folder and the caption database inside it."""

    data_dir: Path = Path("data")
    database: str = "captions.sqlite3"

    @property
    def database_path(self) -> Path:
        """The SQLite file: ``database`` inside ``data_dir``."""
        return self.data_dir / self.database


@dataclass(frozen=True, slots=True)
class AsrSettings:
    """``[asr]``: which Whisper model, where models live and how it runs on the CPU."""

    model: str = "base"
    models_dir: Path = Path("models")
    compute_type: str = "int8"
    # Threads of one recognition pass. One: a pass decodes one window token by token, which a
    # second thread barely speeds up (greedy passes took the same time on the 2-core box; beam
    # passes and passes beside a busy core were faster with one), and the other core is left to
    # translation, voice detection and the readers (benchmarks/README.md, stop 24).
    cpu_threads: int = 1
    # Recognition passes of a room that may run at once, each on its own core
    # (RecognizerSettings.passes_in_flight): 2 starts a pass every 400 ms of new speech
    # while the one before still decodes, so words are seen and settle sooner, for twice
    # the passes; while no core is spare (assistant.asr.cpu) or recognition falls behind,
    # one at a time.
    passes_in_flight: int = 1


@dataclass(frozen=True, slots=True)
class TranslationSettings:
    """``[translation]``: the Argos packages folder and the translation threads."""

    packages_dir: Path = Path("data/argos-packages")
    workers: int = 3
    threads_per_worker: int = 1


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """``[auth]``: chair and staff tokens; empty means generated on first run."""

    chair_token: str = ""
    staff_token: str = ""


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """``[limits]``: per-client queues, frame sizes, connection and message rate limits."""

    client_queue: int = 256
    max_message_bytes: int = 65536
    max_connections_per_ip: int = 50
    heartbeat_s: float = 20.0
    messages_per_s: float = 10.0
    message_burst: int = 40
    rate_strikes: int = 10
    max_concurrent_exports: int = 8
    export_wait_s: float = 5.0
    auth_failures: int = 30


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """``[cluster]``: one process (``all``) or a part of a cluster sharing one Redis (``worker``, ``web``)."""

    role: str = "all"
    redis_url: str = ""

    @property
    def distributed(self) -> bool:
        """Whether rooms, captions and audio live in Redis (any role with ``redis_url`` set)."""
        return bool(self.redis_url)


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """One ``[[sessions]]`` table: a room started (or resumed) with the server."""

    id: str
    title: str = ""
    language: str = "en"
    languages: tuple[str, ...] = ()
    glossary: tuple[str, ...] = ()
    source: str = "remote"
    public: bool = True


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything :func:`load` returns; one frozen value per run."""

    server: ServerSettings = field(default_factory=ServerSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    asr: AsrSettings = field(default_factory=AsrSettings)
    translation: TranslationSettings = field(default_factory=TranslationSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    sessions: tuple[SessionSettings, ...] = ()


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerSettings,
    "storage": StorageSettings,
    "asr": AsrSettings,
    "translation": TranslationSettings,
    "auth": AuthSettings,
    "limits": LimitSettings,
    "cluster": ClusterSettings,
}

_ENV: dict[str, tuple[str, str]] = {
    "ASSISTANT_HOST": ("server", "host"),
    "ASSISTANT_PORT": ("server", "port"),
    "ASSISTANT_PUBLIC_URL": ("server", "public_url"),
    "ASSISTANT_DATA_DIR": ("storage", "data_dir"),
    "ASSISTANT_MODEL": ("asr", "model"),
    "ASSISTANT_CHAIR_TOKEN": ("auth", "chair_token"),
    "ASSISTANT_STAFF_TOKEN": ("auth", "staff_token"),
    "ASSISTANT_ROLE": ("cluster", "role"),
    "ASSISTANT_REDIS_URL": ("cluster", "redis_url"),
}


def load(path: Path | None, environ: Mapping[str, str]) -> Settings:
    """Return the settings from the defaults, ``path`` (if given) and ``environ``.

    Raises ConfigError naming the file and key for anything unknown or mistyped.
    """
    raw = tomllib.loads(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    if path is not None:
        user = _read_toml(path)
        for key, value in user.items():
            if key == "sessions":
                raw["sessions"] = value
            elif key in _SECTIONS and isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key] = {**raw[key], **value}
            else:
                raw[key] = value
    for var, (section, key) in _ENV.items():
        if environ.get(var):
            raw.setdefault(section, {})[key] = _coerce_env(var, environ[var], section, key)
    return _build(raw)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist; pass an existing file to --config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _coerce_env(var: str, value: str, section: str, key: str) -> Any:
    if (section, key) == ("server", "port"):
        try:
            return int(value)
        except ValueError:
            raise ConfigError(f"{var}={value!r} is not a port number") from None
    return value


def _build(raw: dict[str, Any]) -> Settings:
    unknown = set(raw) - set(_SECTIONS) - {"sessions"}
    if unknown:
        raise ConfigError(f"unknown config section(s): {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted([*_SECTIONS, 'sessions']))}")
    parts: dict[str, Any] = {}
    for name, cls in _SECTIONS.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise ConfigError(f"[{name}] must be a table")
        parts[name] = _make(cls, table, name)
    sessions_raw = raw.get("sessions", [])
    if not isinstance(sessions_raw, list):
        raise ConfigError("[[sessions]] must be an array of tables")
    sessions = tuple(_session(s, i) for i, s in enumerate(sessions_raw))
    ids = [s.id for s in sessions]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"sessions.id must be unique; got {ids}")
    settings = Settings(sessions=sessions, **parts)
    _validate(settings)
    return settings


def _make(cls: type[Any], table: dict[str, Any], where: str) -> Any:
    fields = cls.__dataclass_fields__
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise ConfigError(f"unknown key {where}.{key}; known keys: {', '.join(fields)}")
        kwargs[key] = _typed(f"{where}.{key}", fields[key].type, value)
    return cls(**kwargs)


def _typed(name: str, annotation: Any, value: Any) -> Any:
    kind = str(annotation)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be a whole number, not {value!r}")
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, not {value!r}")
        return float(value)
    if kind == "Path":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{name} must be a non-empty path string, not {value!r}")
        return Path(value)
    if kind.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name} must be a list of strings, not {value!r}")
        return tuple(value)
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be a string, not {value!r}")
    return value


def _session(raw: Any, index: int) -> SessionSettings:
    if not isinstance(raw, dict) or "id" not in raw:
        raise ConfigError(f"sessions[{index}] needs an id")
    return _make(SessionSettings, raw, f"sessions[{index}]")  # type: ignore[no-any-return]


ROLES = ("all", "worker", "web")
REDIS_URL_RE = re.compile(r"^(redis|rediss|unix)://\S+$")


def validate_cluster(c: ClusterSettings) -> None:
    """Raise ConfigError unless the role is known and a worker or web node has a Redis URL."""
    if c.role not in ROLES:
        raise ConfigError(f"cluster.role must be one of {', '.join(ROLES)}, not {c.role!r}")
    if c.role != "all" and not c.redis_url:
        raise ConfigError(f"cluster.role = {c.role!r} needs cluster.redis_url (or --redis), "
                          "e.g. redis://redis.venue.lan:6379/0: workers and web nodes meet in Redis")
    if c.redis_url and not REDIS_URL_RE.match(c.redis_url):
        raise ConfigError(f"cluster.redis_url {c.redis_url!r} must look like redis://HOST:6379/0 "
                          "(rediss:// with TLS, unix:///path/redis.sock)")


def _validate(s: Settings) -> None:
    if not 0 < s.server.port < 65536:
        raise ConfigError(f"server.port must be 1-65535, not {s.server.port}")
    if s.asr.passes_in_flight < 1:
        raise ConfigError(f"asr.passes_in_flight must be at least 1, not {s.asr.passes_in_flight}")
    if s.limits.client_queue < 8:
        raise ConfigError("limits.client_queue must be at least 8")
    if s.limits.max_message_bytes < 1024:
        raise ConfigError("limits.max_message_bytes must be at least 1024")
    if s.limits.max_connections_per_ip < 1:
        raise ConfigError("limits.max_connections_per_ip must be at least 1")
    if not s.limits.messages_per_s > 0:
        raise ConfigError("limits.messages_per_s must be a number above 0")
    if s.limits.message_burst < 1:
        raise ConfigError("limits.message_burst must be at least 1")
    if s.limits.rate_strikes < 0:
        raise ConfigError("limits.rate_strikes must be 0 or more")
    validate_cluster(s.cluster)
    if s.limits.max_concurrent_exports < 1:
        raise ConfigError("limits.max_concurrent_exports must be at least 1")
    if s.limits.export_wait_s < 0:
        raise ConfigError("limits.export_wait_s must be 0 or more")
    if s.limits.auth_failures < 1:
        raise ConfigError("limits.auth_failures must be at least 1")
    for origin in s.server.allowed_origins:
        if not ORIGIN_RE.match(origin):
            raise ConfigError(f"server.allowed_origins has {origin!r}; write origins like "
                              "'https://captions.example.org' or 'http://10.0.0.5:8080' (scheme://host[:port])")
    for origin in s.server.frame_ancestors:
        if not ORIGIN_RE.match(origin):
            raise ConfigError(f"server.frame_ancestors has {origin!r}; write the origins of the pages that embed "
                              "the room screen like 'https://events.example.org' (scheme://host[:port])")
    for role in ("chair_token", "staff_token"):
        validate.unicode(getattr(s.auth, role), f"auth.{role}", error=ConfigError)
    validate.unicode(s.server.public_url, "server.public_url", error=ConfigError)
    for i, sess in enumerate(s.sessions):
        validate.session_id(sess.id, f"sessions[{i}].id", error=ConfigError)
        validate.spoken_language(sess.language, f"sessions[{i}].language", error=ConfigError)
        for lang in sess.languages:
            validate.language(lang, f"sessions[{i}].languages", error=ConfigError)
        if sess.title:
            validate.text(sess.title, f"sessions[{i}].title", max_chars=200, error=ConfigError)
        for term in sess.glossary:
            validate.text(term, f"sessions[{i}].glossary", max_chars=100, error=ConfigError)
