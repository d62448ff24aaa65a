"""The ``assistant export`` command: write transcripts from the store to files.

Wire it into the main CLI with :func:`configure_export_parser` on the
``export`` sub-parser and :func:`run_export_command` as its handler::

    assistant export --list
    assistant export SESSION --format srt|vtt|txt|json|docx|zip [--lang L[,L2...]|all] [--out FILE|DIR|-]

Without ``--lang`` a single format is written once per language (those with
captions, and those the session always offers); ``zip`` puts every chosen
language in every format into one archive. A language nobody read live is
translated from the stored captions (see :mod:`assistant.export.ondemand`);
the translations are kept, so the next export of it translates nothing. A
``tqdm`` progress bar on stderr follows long or translating exports.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO, TextIO

from tqdm import tqdm

from assistant.captions import Caption, Session
from assistant.errors import AssistantError
from assistant.export.formats import FORMATS, ZIP, ExportOptions, export_chunks, filename, zip_chunks
from assistant.export.marks import format_date
from assistant.export.ondemand import (LanguagePlan, TranscriptStore, default_languages, export_languages,
                                       plan_language, planned_counts, transcript_captions)
from assistant.export.progress import ExportProgress, ProgressReport
from assistant.export.questions import entries_for
from assistant.export.storelike import HasQuestions, HasSpeakers
from assistant.export.translating import BlockingTranslator

PROGRESS_MIN_CAPTIONS = 2000  # shorter exports that translate nothing finish before a bar would help
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
STDOUT_NAME = "-"
ALL_LANGUAGES = "all"


def configure_export_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``export`` arguments to ``p`` (dest names all start with ``export_``)."""
    p.add_argument("export_session", metavar="SESSION", nargs="?", help="id of the session to export")
    p.add_argument("--list", dest="export_list", action="store_true", help="list sessions and exit")
    p.add_argument(
        "--format", "-f", dest="export_format", choices=[*FORMATS, ZIP], default="txt",
        help="output format (default: txt); zip holds every chosen language in every format",
    )
    p.add_argument("--lang", "-l", dest="export_lang", metavar="L[,L2...]|all",
                   help="these languages, or 'all' that can be made (default: those with captions, and those "
                        "the session always offers); a language nobody read live is translated now")
    p.add_argument("--out", "-o", dest="export_out", metavar="FILE|DIR",
                   help="output file, or a directory for the default names; '-' for stdout")
    p.add_argument("--no-timestamps", dest="export_timestamps", action="store_false",
                   help="plain text without [HH:MM:SS] before each line")
    p.add_argument("--quiet", "-q", dest="export_quiet", action="store_true",
                   help="no progress or summary on stderr")


class _Bar:
    """A tqdm bar on stderr that follows an :class:`ExportProgress` (its listener)."""

    def __init__(self, stream: TextIO, label: str, total: int, show: bool) -> None:
        self._bar = tqdm(total=total, desc=label, unit="caption", file=stream, disable=not show, leave=True,
                         dynamic_ncols=True)
        self._translated = 0

    def __call__(self, report: ProgressReport) -> None:
        if report.translations_done != self._translated:
            self._translated = report.translations_done
            self._bar.set_postfix_str(f"translated {report.translations_done}/{report.translations_total}",
                                      refresh=False)
        self._bar.total = report.captions_total
        self._bar.update(report.captions_done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def run_export_command(
    args: argparse.Namespace,
    store: TranscriptStore,
    *,
    translator: BlockingTranslator | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run ``assistant export`` with parsed ``args``; returns the process exit code.

    ``translator`` makes transcripts in languages nobody read live; without
    one only the stored languages can be exported.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        if args.export_list:
            return _list_sessions(store, out, err)
        if not args.export_session:
            err.write("error: name the SESSION to export (`assistant export --list` shows them)\n")
            return EXIT_USAGE
        return _export(args, store, translator, out, err)
    except AssistantError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
    except OSError as exc:
        err.write(f"error: cannot write the export: {exc}; check that the folder exists and is writable\n")
        return EXIT_FAILED


def _list_sessions(store: TranscriptStore, out: TextIO, err: TextIO) -> int:
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


def _chosen_languages(choice: str | None, store: TranscriptStore, session: Session,
                      translator: BlockingTranslator | None) -> list[str]:
    if choice is None:
        return default_languages(store, session, translator)
    if choice.strip() == ALL_LANGUAGES:
        return export_languages(store, session, translator)
    return list(dict.fromkeys(lang.strip() for lang in choice.split(",") if lang.strip()))


def _export(args: argparse.Namespace, store: TranscriptStore, translator: BlockingTranslator | None,
            out: TextIO, err: TextIO) -> int:
    session = store.get_session(args.export_session)
    if not store.languages(session.id):
        err.write(f"error: session {session.id!r} has no captions yet; nothing to export\n")
        return EXIT_FAILED
    langs = _chosen_languages(args.export_lang, store, session, translator)
    if not langs:
        err.write("error: --lang names no language; give codes like fr or fr,de, or 'all'\n")
        return EXIT_USAGE
    plans = [plan_language(store, session, lang, translator) for lang in langs]  # NotFoundError names the others
    fmt: str = args.export_format
    target: str | None = args.export_out
    options = ExportOptions(timestamps=args.export_timestamps)
    quiet: bool = args.export_quiet
    questions = store.questions.load(session.id) if isinstance(store, HasQuestions) else []
    speakers = store.speakers.load(session.id) if isinstance(store, HasSpeakers) else []

    if fmt == ZIP:
        by_lang = {plan.lang: plan for plan in plans}

        def captions_for(progress: ExportProgress) -> _CaptionsFor:
            return lambda lang: progress.counted(
                transcript_captions(store, session, by_lang[lang], translator, progress), lang)

        _run(store, session, plans, translator, ZIP, len(FORMATS),
             _destination(target, filename(session, None, ZIP)),
             lambda progress: zip_chunks(session, captions_for(progress), langs, options=options,
                                         questions_for=lambda lang: entries_for(questions, lang),
                                         speakers=speakers),
             out, err, quiet)
        return EXIT_OK

    if len(langs) > 1 and target is not None and not _is_directory(target):
        err.write(
            f"error: --out {target} names one file but {len(langs)} languages are chosen "
            f"({', '.join(langs)}); add --lang L, or give a directory\n"
        )
        return EXIT_USAGE
    for plan in plans:
        def chunks(progress: ExportProgress, plan: LanguagePlan = plan) -> Iterable[bytes]:
            captions = progress.counted(transcript_captions(store, session, plan, translator, progress), plan.lang)
            return export_chunks(fmt, session, captions, lang=plan.lang, options=options,
                                 questions=entries_for(questions, plan.lang), speakers=speakers)

        _run(store, session, [plan], translator, fmt, 1, _destination(target, filename(session, plan.lang, fmt)),
             chunks, out, err, quiet)
    return EXIT_OK


_CaptionsFor = Callable[[str], Iterable[Caption]]


def _run(store: TranscriptStore, session: Session, plans: list[LanguagePlan], translator: BlockingTranslator | None,
         fmt: str, passes: int, path: Path | None, make_chunks: Callable[[ExportProgress], Iterable[bytes]],
         out: TextIO, err: TextIO, quiet: bool) -> None:
    """Write one file (or stdout), with a progress bar when it is long or translates."""
    captions, translations = planned_counts(store, session, plans, translator)
    label = path.name if path is not None else "stdout"
    show = not quiet and (captions * passes >= PROGRESS_MIN_CAPTIONS or translations > 0)
    bar = _Bar(err, label, captions * passes, show)
    progress = ExportProgress(fmt, [p.lang for p in plans], captions_total=captions * passes,
                              translations_total=translations, listener=bar)
    try:
        size = _write_all(make_chunks(progress), _binary(out)) if path is None else _write_file(
            make_chunks(progress), path)
    except BaseException:
        progress.finish("failed")
        raise
    finally:
        bar.close()
    progress.finish("done")
    if not quiet:
        report = progress.report()
        made = f", {report.translations_done} translated now" if report.translations_done else ""
        err.write(f"wrote {path if path is not None else 'stdout'} ({report.captions_done} captions{made}, "
                  f"{size} bytes)\n")


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

