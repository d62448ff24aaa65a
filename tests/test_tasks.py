"""Stopping background tasks: a cancellation that Python 3.10/3.11 lose is given again."""

from __future__ import annotations

import asyncio

from assistant.tasks import cancel_and_wait


async def test_a_task_that_lost_its_cancellation_is_cancelled_again() -> None:
    lost: list[int] = []

    async def loop() -> None:
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if lost:
                    raise
                lost.append(1)  # what asyncio.wait_for does on 3.11 when its future completes at the same tick

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await cancel_and_wait(task)
    assert task.cancelled() and lost == [1]


async def test_ended_and_failed_tasks_are_waited_for_without_raising() -> None:
    async def fail() -> None:
        raise ValueError("boom")

    failed, done = asyncio.create_task(fail()), asyncio.create_task(asyncio.sleep(0))
    await asyncio.sleep(0.01)
    await cancel_and_wait(failed, done, asyncio.create_task(asyncio.sleep(10)))
    assert isinstance(failed.exception(), ValueError) and done.result() is None
