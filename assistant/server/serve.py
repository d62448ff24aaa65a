"""``assistant serve``: apply the command-line choices, build the engines, run, print the URLs."""

from __future__ import annotations

import argparse
import dataclasses
import socket
import ssl
import sys
from typing import TextIO

import segno
from aiohttp import web

from .. import protocol, validate
from ..config import SessionSettings, Settings, validate_cluster
from ..errors import ConfigError
from .app import make_app
from .keys import ISSUED_TOKENS, SESSIONS, SETTINGS
from .engines import dry_run_engines
from ..audio.sources import AudioSource
from .sources import open_source
from .tls import ensure_certificate


# Pending connections the kernel queues: a Wi-Fi blip reconnects hundreds of phones at once.
LISTEN_BACKLOG = 1024


def apply_arguments(settings: Settings, args: argparse.Namespace) -> Settings:
    """Fold ``serve``'s flags into the settings (flags win over the config file)."""
    server = settings.server
    if args.host:
        server = dataclasses.replace(server, host=args.host)
    if args.port:
        server = dataclasses.replace(server, port=args.port)
    asr = dataclasses.replace(settings.asr, model=args.model) if args.model else settings.asr
    sessions = settings.sessions
    if args.session or args.source or args.language or args.title or args.languages:
        sid = validate.session_id(args.session or (sessions[0].id if sessions else "main"), "--session",
                                  error=ConfigError)
        base = next((s for s in sessions if s.id == sid), SessionSettings(id=sid, title=sid))
        changes: dict[str, object] = {}
        if args.title:
            changes["title"] = validate.text(args.title, "--title", max_chars=protocol.MAX_TITLE_CHARS,
                                             error=ConfigError)
        if args.language:
            changes["language"] = validate.spoken_language(args.language, "--language", error=ConfigError)
        if args.languages:
            changes["languages"] = tuple(validate.language(x.strip(), "--languages", error=ConfigError)
                                         for x in args.languages.split(",") if x.strip())
        if args.source:
            changes["source"] = args.source
        sessions = (dataclasses.replace(base, **changes),)  # type: ignore[arg-type]
    cluster = settings.cluster
    if getattr(args, "role", None):
        cluster = dataclasses.replace(cluster, role=args.role)
    if getattr(args, "redis", None):
        cluster = dataclasses.replace(cluster, redis_url=args.redis)
    validate_cluster(cluster)
    return dataclasses.replace(settings, server=server, asr=asr, sessions=sessions, cluster=cluster)


def serve(args: argparse.Namespace, settings: Settings) -> int:
    settings = apply_arguments(settings, args)
    transcriber, translator = dry_run_engines() if args.dry_run else (None, None)
    sources: dict[str, AudioSource] = {}
    for s in settings.sessions:
        source = open_source(s.source)
        if source is not None:
            sources[s.id] = source
    ssl_context = None
    if settings.server.tls:
        cert, key = ensure_certificate(settings)
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(cert, key)
    banner = (lambda app: print_banner(app, ssl_context is not None, not args.no_qr, sys.stdout))
    if settings.cluster.distributed:
        from ..cluster.app import make_cluster_app

        # Recordings are played by whichever worker owns their room, through Redis (checked above).
        app = make_cluster_app(settings, transcriber=transcriber, translator=translator,
                               on_ready=banner if settings.cluster.role != "worker" else print_worker_banner)
    else:
        app = make_app(settings, transcriber=transcriber, translator=translator, sources=sources, on_ready=banner)
    if translator is not None:
        service = translator

        async def close_dry_run_translator(app: web.Application) -> None:
            await service.close()

        app.on_cleanup.append(close_dry_run_translator)
    web.run_app(app, host=settings.server.host, port=settings.server.port, ssl_context=ssl_context,
                print=None, shutdown_timeout=5, backlog=LISTEN_BACKLOG)
    return 0


def print_worker_banner(app: web.Application) -> None:
    settings = app[SETTINGS]
    sys.stdout.write(f"\nRecognition worker running for the cluster at {settings.cluster.redis_url}; "
                     f"health and metrics on port {settings.server.port}.\n\n")
    sys.stdout.flush()


def lan_address() -> str:
    """This machine's address on the local network, for the URLs phones will open.

    A UDP socket's connect() only picks the outgoing interface from the routing
    table: no packet is sent. Without a route, the host name's addresses are tried.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never reached, only routed
            address = str(probe.getsockname()[0])
            if not address.startswith("127.") and address != "0.0.0.0":
                return address
        except OSError:
            pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
    except OSError:
        return "127.0.0.1"
    addresses = [str(i[4][0]) for i in infos if not str(i[4][0]).startswith("127.")]
    return addresses[0] if addresses else "127.0.0.1"


def base_url(settings: Settings, tls: bool) -> str:
    if settings.server.public_url:
        return settings.server.public_url.rstrip("/")
    host = settings.server.host
    if host in ("0.0.0.0", "::", ""):
        host = lan_address()
    return f"{'https' if tls else 'http'}://{host}:{settings.server.port}"


def print_banner(app: web.Application, tls: bool, qr: bool, out: TextIO) -> None:
    """The URLs to open. A token is printed only when it was just generated (shown once); one from
    the config or the environment is not echoed: the lines say where it comes from instead."""
    base = base_url(app[SETTINGS], tls)
    tokens = {t.role: t for t in app[ISSUED_TOKENS]}
    chair = tokens["chair"].token
    staff = tokens["staff"].token
    out.write("\nLive captions are running. Open these on the venue network:\n\n")
    for runtime in app[SESSIONS]:
        s = runtime.session
        url = f"{base}/s/{s.id}"
        out.write(f"  Delegates — {s.title} ({s.source_lang}): {url}\n")
        if qr:
            segno.make(url, error="m").terminal(out=out, compact=True)
        out.write(f"  Chair console: {base}/chair/{s.id}{'#token=' + chair if chair else ''}\n")
        out.write(f"  Capture station: assistant capture --server {base} --session {s.id} "
                  f"--token {chair or '<chair token>'}\n")
    out.write(f"  Staff exports: {base}/staff{'#token=' + staff if staff else ''}\n\n")
    for t in app[ISSUED_TOKENS]:
        if t.source == "generated":
            out.write(f"  New {t.role} token (shown once, stored hashed): {t.token}\n")
        elif t.source == "config":
            out.write(f"  {t.role} token: the one set in the config ([auth] {t.role}_token) or in "
                      f"ASSISTANT_{t.role.upper()}_TOKEN; the pages ask for it (or add #token=... to the link)\n")
        else:
            out.write(f"  {t.role} token: set earlier; `assistant tokens rotate {t.role}` makes a new one\n")
    if not tls:
        out.write("  Note: browsers allow the chair's microphone only over HTTPS (set server.tls = true)"
                  " or on localhost.\n")
    out.write("\n")
    out.flush()
