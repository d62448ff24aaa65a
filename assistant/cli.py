"""``assistant``: the command line. Each subcommand's work lives in its own module.

    assistant serve       run the caption server (sessions from config or flags)
    assistant capture     stream a capture station's microphone (or a file) to a server
    assistant devices     list microphones
    assistant models      list or install Whisper models
    assistant languages   list or add translation packages
    assistant export      write a session's transcript (srt, vtt, txt, json, docx, zip)
    assistant tokens      rotate the chair or staff token; issue, list, revoke chair tokens of one session
    assistant programme   import the conference programme (CSV, JSON, iCalendar) or show it

``--config FILE`` and ``--verbose`` come before the command; ``--version`` prints
the installed package's version.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from . import validate
from .config import Settings, load
from .errors import AssistantError, ConfigError

if TYPE_CHECKING:
    from .server.auth import TokenBook


DISTRIBUTION = "assistant"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("faster_whisper").setLevel(logging.WARNING)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args))
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def package_version() -> str:
    """The installed distribution's version (pyproject.toml's), or a note when running uninstalled."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "(not installed: run `pip install .`)"


def build_parser() -> argparse.ArgumentParser:
    """The ``assistant`` parser with every sub-command; each option carries its help text."""
    from .audio.microphone import configure_devices_parser
    from .capture import configure_capture_parser
    from .cli_programme import configure_programme_parser
    from .export import configure_export_parser
    from .models import configure_models_parser
    from .translate.languages import configure_languages_parser

    parser = argparse.ArgumentParser(prog="assistant", description="Live multilingual captions for conferences.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}",
                        help="print the version and exit")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="a TOML file overriding the embedded default.toml (before the command: "
                             "assistant --config my.toml serve)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages too")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the caption server")
    serve.add_argument("--host", help="address to listen on (default: server.host, 0.0.0.0 = every interface)")
    serve.add_argument("--port", type=int, help="port to listen on (default: server.port, 8080)")
    serve.add_argument("--session", help="run only this session (created if new)")
    serve.add_argument("--title", help="the session's title, shown to readers")
    serve.add_argument("--language", help="spoken language: en, ru, ... or auto")
    serve.add_argument("--languages", help="translation targets always produced, e.g. fr,es")
    serve.add_argument("--source", help="remote | none | mic | mic:NAME | a recording to replay at real speed")
    serve.add_argument("--model", help="base | tiny.en | a CTranslate2 folder")
    serve.add_argument("--no-qr", action="store_true", help="do not print QR codes in the terminal")
    serve.add_argument("--dry-run", action="store_true",
                       help="use the scripted fake recogniser (no model; for trying the pages)")
    serve.add_argument("--role", choices=("all", "worker", "web"),
                       help="all: one process (default); worker: recognise the rooms it leases; web: serve every "
                            "room's pages and sockets (worker and web need --redis; docs/scaling.md)")
    serve.add_argument("--redis", metavar="URL", help="the cluster's Redis, e.g. redis://redis.venue.lan:6379/0")
    serve.set_defaults(run=_serve)

    p = sub.add_parser("capture", help="stream a microphone or recording to a server")
    configure_capture_parser(p)
    p.set_defaults(run=_capture)

    p = sub.add_parser("devices", help="list input devices")
    configure_devices_parser(p)
    p.set_defaults(run=_devices)

    p = sub.add_parser("models", help="list or install Whisper models")
    configure_models_parser(p)
    p.set_defaults(run=_models)

    p = sub.add_parser("languages", help="list or add translation packages")
    configure_languages_parser(p)
    p.set_defaults(run=_languages)

    p = sub.add_parser("export", help="write a session's transcript")
    configure_export_parser(p)
    p.set_defaults(run=_export)

    p = sub.add_parser("tokens", help="rotate the chair or staff token; chair tokens for one session")
    actions = p.add_subparsers(dest="tokens_action", metavar="ACTION", required=True, help="what to do")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--redis", metavar="URL", help="a cluster's Redis, whose web nodes all take the change within "
                                                      "a second (default: cluster.redis_url; unset: this machine's "
                                                      "database)")
    a = actions.add_parser("rotate", parents=[where], help="replace the chair or staff token (good in every session)")
    a.add_argument("role", choices=["chair", "staff"], help="whose token; the old one stops working")
    a = actions.add_parser("issue", parents=[where], help="make a chair token good in one session only (printed once)")
    a.add_argument("role", choices=["chair"], help="the role it holds in that session")
    a.add_argument("--session", required=True, help="the session (room) it is good in")
    a = actions.add_parser("list", parents=[where], help="list the tokens of single sessions (ids, never the tokens)")
    a.add_argument("--session", help="only this session's")
    a = actions.add_parser("revoke", parents=[where],
                           help="revoke a session's chair token by id, or all of a session's")
    a.add_argument("token_id", metavar="ID", nargs="?", help="the id `issue` and `list` show")
    a.add_argument("--session", help="revoke every token of this session")
    p.set_defaults(run=_tokens)

    p = sub.add_parser("programme", help="import the conference programme (rooms, talks) or show it")
    configure_programme_parser(p)
    p.set_defaults(run=_programme)
    return parser


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings for this run: the embedded defaults, ``--config`` and the environment."""
    return load(args.config, os.environ)


def _capture(args: argparse.Namespace) -> int:
    from .capture import run_capture_command

    return run_capture_command(args)


def _devices(args: argparse.Namespace) -> int:
    from .audio.microphone import run_devices_command

    return run_devices_command(args)


def _models(args: argparse.Namespace) -> int:
    from .models import run_models_command

    return run_models_command(args, settings_of(args).asr.models_dir)


def _languages(args: argparse.Namespace) -> int:
    from .translate.languages import run_languages_command

    return run_languages_command(args, settings_of(args).translation.packages_dir)


def _export(args: argparse.Namespace) -> int:
    from .export import run_export_command
    from .export.translating import ThreadedTranslator
    from .server.engines import build_translator
    from .store import Store

    settings = settings_of(args)
    store = Store.open(settings.storage.database_path)
    try:
        # Languages nobody read live are translated with the installed packages (built on first need).
        with ThreadedTranslator(lambda: build_translator(settings)) as translator:
            return run_export_command(args, store, translator=translator)
    finally:
        store.close()


def _programme(args: argparse.Namespace) -> int:
    from .cli_programme import run_programme_command

    return run_programme_command(args, settings_of(args).storage.database_path)


def _tokens(args: argparse.Namespace) -> int:
    import time

    from .store import Store

    settings = settings_of(args)
    now_ms = time.time_ns() // 1_000_000
    url = args.redis or settings.cluster.redis_url
    if url:
        return _cluster_tokens(args, url, now_ms)
    store = Store.open(settings.storage.database_path)

    def note(session: str) -> str | None:
        if store.programme.load().room(session) is not None:
            return f"{session!r} is a room of the programme: the token chairs every talk in it"
        if not store.has_session(session):
            return f"session {session!r} has not run on this server yet; the token works once it does"
        return None

    try:
        return _token_action(args, store, now_ms, note)
    finally:
        store.close()


def _cluster_tokens(args: argparse.Namespace, url: str, now_ms: int) -> int:
    """The same actions on a cluster's Redis (cluster.redis_url or --redis): every web node takes a new,
    rotated or revoked token from there within a second."""
    import redis

    from .cluster.keys import ROOMS, UNREACHABLE
    from .cluster.tokens import RedisTokens

    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        code = _token_action(args, RedisTokens(client), now_ms, lambda session: None if client.hexists(ROOMS, session)
                             else f"the cluster has no session {session!r} yet; the token works once it is created")
    except UNREACHABLE as exc:
        raise ConfigError(f"cannot reach the cluster's Redis at {url} ({exc}): check cluster.redis_url "
                          "(or --redis) and that Redis runs") from exc
    finally:
        client.close()
    if args.tokens_action == "rotate":
        print(f"note: a node configured with its own {args.role} token (auth.{args.role}_token or "
              f"ASSISTANT_{args.role.upper()}_TOKEN) sets that one again when it starts: change it there too",
              file=sys.stderr)
    return code


def _token_action(args: argparse.Namespace, book: TokenBook, now_ms: int,
                  note: Callable[[str], str | None]) -> int:
    from .server import auth

    if args.tokens_action == "rotate":
        token = auth.rotate(book, args.role, now_ms)
        print(f"New {args.role} token (shown once; the old one no longer works):\n{token}")
    elif args.tokens_action == "issue":
        session = validate.session_id(args.session, "--session", error=ConfigError)
        token_id, token = auth.issue_scoped(book, args.role, session, now_ms)
        print(f"New chair token for session {session!r} only (id {token_id}; shown once, stored hashed):\n"
              f"{token}")
        if (said := note(session)) is not None:
            print(f"note: {said}", file=sys.stderr)
    elif args.tokens_action == "list":
        _list_tokens(book, args.session)
    else:
        return _revoke_tokens(book, args.token_id, args.session, now_ms)
    return 0


def _list_tokens(store: TokenBook, session: str | None) -> None:
    import datetime

    tokens = store.scoped_tokens(session)
    if not tokens:
        print("no tokens for single sessions; `assistant tokens issue chair --session ID` makes one",
              file=sys.stderr)
    for t in tokens:
        made = datetime.datetime.fromtimestamp(t.created_at_ms / 1000, datetime.timezone.utc)
        state = "live" if t.revoked_at_ms is None else "revoked"
        print(f"{t.id}\t{t.role}\t{t.session}\t{made:%Y-%m-%d %H:%M} UTC\t{state}")


def _revoke_tokens(store: TokenBook, token_id: str | None, session: str | None, now_ms: int) -> int:
    if (token_id is None) == (session is None):
        raise ConfigError("give a token's id (see `assistant tokens list`) or --session ID, not both")
    count = store.revoke_scoped_tokens(token_id=token_id, session_id=session, at_ms=now_ms)
    what = f"token {token_id}" if token_id is not None else f"{count} token(s) of session {session!r}"
    if not count:
        print(f"error: nothing to revoke: no live {'token ' + token_id if token_id else 'token of ' + repr(session)}"
              "; `assistant tokens list` shows them", file=sys.stderr)
        return 1
    print(f"Revoked {what}: no longer good, on a running server too")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .server.serve import serve

    return serve(args, settings_of(args))
