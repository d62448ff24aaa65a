"""The ``assistant export`` command: write transcripts from the store to files.

Wire it into the main CLI with :func:`configure_export_parser` on the
``export`` sub-parser and :func:`run_export_command` as its handler::

    assistant export --list
    assistant export SESSION --format srt|vtt|txt|json|docx|zip [--lang L] [--out FILE|DIR|-]

Without ``--lang`` a single format is written once per language (into DIR or
the current folder); ``zip`` puts every language in every format into one
archive. Progress (captions written / total) goes to stderr for long sessions.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from assistant.captions import Caption
from assistant.errors import AssistantError
from assistant.export.formats import FORMATS, ZIP, ExportOptions, export_chunks, filename, zip_chunks
from assistant.export.marks import format_date
from assistant.export.questions import entries_for
from assistant.export.storelike import HasQuestions, StoreLike

PROGRESS_MIN_CAPTIONS = 2000  # shorter exports finish before a progress line would help
PROGRESS_EVERY_CAPTIONS = 1000  # one progress line per this many captions written
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
STDOUT_NAME = "-"


def configure_export_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``export`` arguments to ``p`` (dest names all start with ``export_``)."""
    p.add_argument("export_session", metavar="SESSION", nargs="?", help="id of the session to export")
    p.add_argument("--list", dest="export_list", action="store_true", help="list sessions and exit")
    p.add_argument(
        "--format", "-f", dest="export_format", choices=[*FORMATS, ZIP], default="txt",
        help="output format (default: txt); zip holds every language in every format",
    )
    p.add_argument("--lang", "-l", dest="export_lang", metavar="L",
                   help="only this language (default: every language with captions)")
    p.add_argument("--out", "-o", dest="export_out", metavar="FILE|DIR",
                   help="output file, or a directory for the default names; '-' for stdout")
    p.add_argument("--no-timestamps", dest="export_timestamps", action="store_false",
                   help="plain text without [HH:MM:SS] before each line")
    p.add_argument("--quiet", "-q", dest="export_quiet", action="store_true",
                   help="no progress or summary on stderr")


class _Progress:
    """Counts captions as the exporter pulls them and reports on stderr now and then."""

    def __init__(self, stream: TextIO, label: str, total: int, quiet: bool) -> None:
        self._stream = stream
        self._label = label
        self._total = total
        self._show = not quiet and total >= PROGRESS_MIN_CAPTIONS
        self._tty = stream.isatty()
        self.done = 0

    def counted(self, captions: Iterable[Caption]) -> Iterator[Caption]:
        for caption in captions:
            yield caption
            self.done += 1
            if self._show and self.done % PROGRESS_EVERY_CAPTIONS == 0:
                self._report()

    def _report(self) -> None:
        line = f"{self._label}: {self.done}/{self._total} captions"
        self._stream.write(f"\r{line}" if self._tty else f"{line}\n")
        self._stream.flush()

    def close(self) -> None:
        if self._show and self._tty:
            self._stream.write("\n")


def run_export_command(
    args: argparse.Namespace,
    store: StoreLike,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run ``assistant export`` with parsed ``args``; returns the process exit code."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        if args.export_list:
            return _list_sessions(store, out, err)
        if not args.export_session:
            err.write("error: name the SESSION to export (`assistant export --list` shows them)\n")
            return EXIT_USAGE
        return _export(args, store, out, err)
    except AssistantError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
    except OSError as exc:
        err.write(f"error: cannot write the export: {exc}; check that the folder exists and is writable\n")
        return EXIT_FAILED


def _list_sessions(store: StoreLike, out: TextIO, err: TextIO) -> int:
    sessions = store.list_sessions()
    if not sessions:
        err.write("no sessions in the store yet; captions are stored once a session has run\n")
        return EXIT_OK
    out.write("ID\tDATE\tLANGUAGES\tTITLE\n")
    for s in sessions:
        when = format_date(s.started_at_ms if s.started_at_ms is not None else s.created_at_ms)
        langs = ",".join(store.languages(s.id)) or "-"
        out.write(f"{s.id}\t{when}\t{langs}\t{s.title}\n")
    return EXIT_OK


def _export(args: argparse.Namespace, store: StoreLike, out: TextIO, err: TextIO) -> int:
    session = store.get_session(args.export_session)
    available = store.languages(session.id)
    if not available:
        err.write(f"error: session {session.id!r} has no captions yet; nothing to export\n")
        return EXIT_FAILED
    if args.export_lang is not None and args.export_lang not in available:
        err.write(
            f"error: session {session.id!r} has no captions in {args.export_lang!r}; "
            f"it has: {', '.join(available)}\n"
        )
        return EXIT_FAILED
    langs = [args.export_lang] if args.export_lang is not None else available
    fmt: str = args.export_format
    target: str | None = args.export_out
    options = ExportOptions(timestamps=args.export_timestamps)
    quiet: bool = args.export_quiet
    questions = store.questions.load(session.id) if isinstance(store, HasQuestions) else []

    if fmt == ZIP:
        total = sum(store.count_captions(session.id, lang) for lang in langs) * len(FORMATS)
        progress = _Progress(err, filename(session, None, ZIP), total, quiet)

        def captions_for(lang: str) -> Iterable[Caption]:
            return progress.counted(store.iter_captions(session.id, lang))

        chunks = zip_chunks(session, captions_for, langs, options=options,
                            questions_for=lambda lang: entries_for(questions, lang))
        _deliver(chunks, _destination(target, filename(session, None, ZIP)), progress, out, err, quiet)
        return EXIT_OK

    if len(langs) > 1 and target is not None and not _is_directory(target):
        err.write(
            f"error: --out {target} names one file but session {session.id!r} has "
            f"{len(langs)} languages ({', '.join(langs)}); add --lang L, or give a directory\n"
        )
        return EXIT_USAGE
    for lang in langs:
        name = filename(session, lang, fmt)
        progress = _Progress(err, name, store.count_captions(session.id, lang), quiet)
        captions = progress.counted(store.iter_captions(session.id, lang))
        chunks = export_chunks(fmt, session, captions, lang=lang, options=options,
                               questions=entries_for(questions, lang))
        _deliver(chunks, _destination(target, name), progress, out, err, quiet)
    return EXIT_OK


def _is_directory(target: str) -> bool:
    return target != STDOUT_NAME and (target.endswith(("/", os.sep)) or Path(target).is_dir())


def _destination(target: str | None, name: str) -> Path | None:
    """The file to write (None for stdout); a directory target gets the default name inside."""
    if target is None:
        return Path(name)
    if target == STDOUT_NAME:
        return None
    if _is_directory(target):
        Path(target).mkdir(parents=True, exist_ok=True)
        return Path(target) / name
    return Path(target)


def _deliver(
    chunks: Iterable[bytes], path: Path | None, progress: _Progress, out: TextIO, err: TextIO, quiet: bool
) -> None:
    if path is None:
        size = _write_all(chunks, _binary(out))
    else:
        size = _write_file(chunks, path)
    progress.close()
    if not quiet:
        where = "stdout" if path is None else str(path)
        err.write(f"wrote {where} ({progress.done} captions, {size} bytes)\n")


def _binary(out: TextIO) -> BinaryIO:
    buffer = getattr(out, "buffer", None)
    if buffer is None:
        raise OSError("this stdout takes text only; give --out FILE instead of --out -")
    out.flush()
    binary: BinaryIO = buffer
    return binary


def _write_all(chunks: Iterable[bytes], sink: BinaryIO) -> int:
    size = 0
    for chunk in chunks:
        sink.write(chunk)
        size += len(chunk)
    sink.flush()
    return size


def _write_file(chunks: Iterable[bytes], path: Path) -> int:
    """Write to ``path`` via a ``.part`` file, so a failed export never leaves a half file."""
    partial = path.with_name(path.name + ".part")
    try:
        with open(partial, "wb") as sink:
            size = _write_all(chunks, sink)
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return size

