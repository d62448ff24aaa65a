"""TranslationService with the scripted FakeTranslator: batching, threads, fallback, errors."""

from __future__ import annotations

import asyncio
import threading

import pytest

from assistant.errors import LanguageError
from assistant.translate.fake import FakeTranslator
from assistant.translate.service import TranslationResult, TranslationService
from assistant.translate.wrappers import CachedTranslator, PivotTranslator


async def test_translates_and_reports_elapsed_time() -> None:
    service = TranslationService(FakeTranslator({("en", "fr")}, delay_s=0.05), workers=1, max_batch=4)
    result = await service.translate("Hello", "en", "fr")
    assert result.text == "[fr] Hello" and not result.fallback
    assert result.elapsed_ms >= 40
    await service.close()


async def test_requests_for_one_pair_are_batched_while_it_is_busy() -> None:
    fake = FakeTranslator({("en", "fr")}, delay_s=0.1)
    service = TranslationService(fake, workers=2, max_batch=4)
    texts = [f"line {i}" for i in range(9)]
    results = await asyncio.gather(*(service.translate(t, "en", "fr") for t in texts))
    assert [r.text for r in results] == [f"[fr] {t}" for t in texts]
    sizes = [len(batch[2]) for batch in fake.batches]
    assert sum(sizes) == 9 and max(sizes) <= 4 and len(sizes) < 9
    await service.close()


async def test_pairs_run_in_parallel_on_workers() -> None:
    fake = FakeTranslator({("en", "fr"), ("en", "de"), ("en", "es")}, delay_s=0.3)
    service = TranslationService(fake, workers=3, max_batch=8)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(service.translate("Hi", "en", t) for t in ("fr", "de", "es")))
    assert loop.time() - started < 0.8  # three 0.3 s batches side by side, not 0.9 s in a row
    await service.close()


async def test_event_loop_keeps_running_during_translation() -> None:
    service = TranslationService(FakeTranslator({("en", "fr")}, delay_s=0.4), workers=1, max_batch=1)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    await service.translate("Hello", "en", "fr")
    beat.cancel()
    assert ticks >= 10
    await service.close()


async def test_translation_runs_on_a_worker_thread() -> None:
    seen: list[str] = []

    class ThreadRecorder(FakeTranslator):
        def translate_batch(self, texts, source, target):  # type: ignore[no-untyped-def]
            seen.append(threading.current_thread().name)
            return super().translate_batch(texts, source, target)

    service = TranslationService(ThreadRecorder({("en", "fr")}), workers=1, max_batch=1)
    await service.translate("Hello", "en", "fr")
    assert seen and seen[0].startswith("translate") and seen[0] != threading.main_thread().name
    await service.close()


async def test_degenerate_output_falls_back_to_source_text() -> None:
    script = {("en", "fr", "Good morning."): "bonjour bonjour bonjour bonjour bonjour",
              ("en", "fr", "Thanks."): ""}
    service = TranslationService(FakeTranslator({("en", "fr")}, script=script), workers=1, max_batch=4)
    looped, empty, fine = await asyncio.gather(
        service.translate("Good morning.", "en", "fr"),
        service.translate("Thanks.", "en", "fr"),
        service.translate("Hello.", "en", "fr"),
    )
    assert (looped.text, looped.fallback) == ("Good morning.", True)
    assert (empty.text, empty.fallback) == ("Thanks.", True)
    assert (fine.text, fine.fallback) == ("[fr] Hello.", False)
    await service.close()


async def test_glossary_terms_survive_and_a_lost_placeholder_triggers_a_plain_retry() -> None:
    fake = FakeTranslator({("en", "fr")})
    service = TranslationService(fake, workers=1, max_batch=4)
    kept = await service.translate("welcome to pycon", "en", "fr", glossary=("PyCon",))
    assert kept.text == "[fr] welcome to PyCon"
    assert "pycon" not in fake.batches[0][2][0].lower()  # the model never saw the term

    protected_text = fake.batches[0][2][0]
    dropping = FakeTranslator({("en", "fr")}, script={("en", "fr", protected_text): "bienvenue"})
    service2 = TranslationService(dropping, workers=1, max_batch=4)
    retried = await service2.translate("welcome to pycon", "en", "fr", glossary=("PyCon",))
    assert retried.text == "[fr] welcome to pycon"
    assert [b[2] for b in dropping.batches] == [(protected_text,), ("welcome to pycon",)]
    await service.close()
    await service2.close()


async def test_unknown_language_lists_available_targets() -> None:
    service = TranslationService(FakeTranslator({("en", "fr"), ("en", "de")}), workers=1, max_batch=1)
    assert service.available_targets("en") == ("de", "fr")
    with pytest.raises(LanguageError) as caught:
        await service.translate("Hello", "en", "ja")
    assert caught.value.available == ("de", "fr")
    assert "'ja'" in str(caught.value) and "assistant languages add" in str(caught.value)
    await service.close()


async def test_prepare_loads_a_pair_through_the_pivot_on_a_worker_thread() -> None:
    class LoadsNamingTheThread(FakeTranslator):
        threads: list[str] = []

        def load(self, source: str, target: str) -> None:
            self.threads.append(threading.current_thread().name)
            super().load(source, target)

    fake = LoadsNamingTheThread({("zh", "en"), ("en", "fr")})
    service = TranslationService(PivotTranslator(CachedTranslator(fake)), workers=1)
    await service.prepare("zh", "fr")
    assert fake.loads == [("zh", "en"), ("en", "fr")] and fake.batches == []  # both hops, nothing translated
    assert len(fake.threads) == 2 and all(name.startswith("translate") for name in fake.threads)
    await service.prepare("fr", "fr")  # nothing to load
    with pytest.raises(LanguageError) as caught:
        await service.prepare("zh", "ja")
    assert caught.value.available == ("en", "fr")
    assert fake.loads == [("zh", "en"), ("en", "fr")]
    await service.close()


async def test_same_language_and_blank_text_need_no_model() -> None:
    fake = FakeTranslator({("en", "fr")})
    service = TranslationService(fake, workers=1, max_batch=1)
    assert await service.translate("Hello", "en", "en") == TranslationResult("Hello", False, 0)
    assert (await service.translate("  ", "en", "fr")).text == "  "
    assert fake.batches == []
    await service.close()


async def test_errors_reach_every_caller_of_the_batch_and_the_service_goes_on() -> None:
    class Failing(FakeTranslator):
        def translate_batch(self, texts, source, target):  # type: ignore[no-untyped-def]
            if "boom" in texts:
                raise RuntimeError("model crashed")
            return super().translate_batch(texts, source, target)

    service = TranslationService(Failing({("en", "fr")}), workers=1, max_batch=4)
    outcomes = await asyncio.gather(
        service.translate("boom", "en", "fr"), return_exceptions=True
    )
    assert isinstance(outcomes[0], RuntimeError)
    assert (await service.translate("ok", "en", "fr")).text == "[fr] ok"
    await service.close()


async def test_close_finishes_queued_requests_then_refuses_new_ones() -> None:
    service = TranslationService(FakeTranslator({("en", "fr")}, delay_s=0.1), workers=1, max_batch=1)
    pending = [asyncio.create_task(service.translate(f"t{i}", "en", "fr")) for i in range(3)]
    await asyncio.sleep(0)
    await service.close()
    assert [p.result().text for p in pending] == ["[fr] t0", "[fr] t1", "[fr] t2"]
    with pytest.raises(RuntimeError, match="after close"):
        await service.translate("late", "en", "fr")


async def test_cancelled_caller_is_skipped() -> None:
    fake = FakeTranslator({("en", "fr")}, delay_s=0.1)
    service = TranslationService(fake, workers=1, max_batch=8)
    first = asyncio.create_task(service.translate("first", "en", "fr"))
    await asyncio.sleep(0.02)  # "first" is now running; the next two queue up
    doomed = asyncio.create_task(service.translate("doomed", "en", "fr"))
    kept = asyncio.create_task(service.translate("kept", "en", "fr"))
    await asyncio.sleep(0)
    doomed.cancel()
    assert (await kept).text == "[fr] kept"
    await first
    assert all("doomed" not in batch[2] for batch in fake.batches)
    await service.close()


def test_bad_pool_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="workers"):
        TranslationService(FakeTranslator(()), workers=0, max_batch=1)
