"""``assistant``: the command line. Each subcommand's work lives in its own module.

    assistant serve       run the caption server (sessions from config or flags)
    assistant capture     stream a capture station's microphone (or a file) to a server
    assistant devices     list microphones
    assistant models      list or install Whisper models
    assistant languages   list or add translation packages
    assistant export      write a session's transcript (srt, vtt, txt, json, docx, zip)
    assistant tokens      rotate the chair or staff token

``--config FILE`` and ``--verbose`` come before the command; ``--version`` prints
the installed package's version.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Sequence

from .config import Settings, load
from .errors import AssistantError


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

    p = sub.add_parser("tokens", help="rotate the chair or staff token")
    p.add_argument("action", choices=["rotate"], help="rotate: print a new token; the old one stops working")
    p.add_argument("role", choices=["chair", "staff"], help="whose token")
    p.set_defaults(run=_tokens)
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
    from .store import Store

    store = Store.open(settings_of(args).storage.database_path)
    try:
        return run_export_command(args, store)
    finally:
        store.close()


def _tokens(args: argparse.Namespace) -> int:
    import time

    from .server.auth import rotate
    from .store import Store

    store = Store.open(settings_of(args).storage.database_path)
    try:
        token = rotate(store, args.role, time.time_ns() // 1_000_000)
    finally:
        store.close()
    print(f"New {args.role} token (shown once; the old one no longer works):\n{token}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from .server.serve import serve

    return serve(args, settings_of(args))
