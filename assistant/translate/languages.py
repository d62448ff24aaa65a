"""``assistant languages``: list installed translation pairs and add new ones.

    assistant languages                          list pairs and reachable targets
    assistant languages add FILE.argosmodel      install a copied package file
    assistant languages add --from-index en:es,fr,de   download from the Argos index

The CLI calls ``configure_languages_parser`` on its ``languages`` sub-parser and
``run_languages_command(args, packages_dir)`` to run it; the return value is the
exit code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from assistant.errors import LanguageError, TranslationPackageError
from assistant.translate import index
from assistant.translate.packages import PackageRegistry, PairInfo


def configure_languages_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``add`` sub-command and its options to the ``languages`` parser."""
    actions = p.add_subparsers(dest="languages_action", metavar="{add}")
    add = actions.add_parser("add", help="install a translation package")
    what = add.add_mutually_exclusive_group(required=True)
    what.add_argument("file", nargs="?", type=Path, help="a .argosmodel file to install")
    what.add_argument(
        "--from-index",
        metavar="SOURCE:TARGET[,TARGET...]",
        help="download from the Argos package index (needs internet), e.g. en:es,fr,de",
    )
    add.add_argument(
        "--index-url",
        default=index.DEFAULT_INDEX_URL,
        help="Argos package index (index.json) URL (default: %(default)s)",
    )


def _parse_pairs(spec: str) -> tuple[str, list[str]]:
    source, sep, targets = spec.partition(":")
    wanted = [t.strip() for t in targets.split(",") if t.strip()]
    if not sep or not source.strip() or not wanted:
        raise LanguageError(
            f"--from-index expects SOURCE:TARGET[,TARGET...] such as en:es,fr,de, got {spec!r}."
        )
    return source.strip(), wanted


def _describe(pair: PairInfo) -> str:
    names = f" ({pair.source_name} → {pair.target_name})" if pair.source_name else ""
    return f"{pair.source}→{pair.target}{names} version {pair.version or '?'}"


def _list(registry: PackageRegistry) -> None:
    pairs = registry.installed()
    if not pairs:
        print(
            f"No translation packages installed in {registry.packages_dir}.\n"
            "Add one with `assistant languages add FILE.argosmodel` or "
            "`assistant languages add --from-index en:es,fr`."
        )
        return
    print(f"Installed packages ({registry.packages_dir}):")
    for pair in pairs:
        print(f"  {_describe(pair)}")
    print("Reachable targets per source language:")
    for source in registry.sources():
        routes = registry.routes(source).values()
        shown = [r.target if r.via is None else f"{r.target} (via {r.via})" for r in routes]
        print(f"  {source}: {', '.join(shown)}")


def run_languages_command(args: argparse.Namespace, packages_dir: Path) -> int:
    """Run ``assistant languages [add ...]``; print results, return the exit code."""
    try:
        if getattr(args, "languages_action", None) != "add":
            _list(PackageRegistry(packages_dir))
            return 0
        registry = PackageRegistry(packages_dir, index_url=args.index_url)
        if args.from_index:
            source, targets = _parse_pairs(args.from_index)
            installed = registry.install_from_index(source, targets)
        else:
            installed = [registry.install_file(args.file)]
        for pair in installed:
            print(f"Installed {_describe(pair)} in {pair.path}")
        return 0
    except (TranslationPackageError, LanguageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

