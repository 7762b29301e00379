"""Virtual time for asyncio: idle waits jump to the next timer, real work holds time still.

Every check is on the loop's (virtual) clock, never on wall-clock durations.  These are
plain sync tests: each runs its coroutine on a fresh VirtualTimeLoop (run_virtual).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection, serve

from chargepoint.clocks import loop_clock
from chargepoint.virtualtime import (
    VirtualTime,
    VirtualTimeLoop,
    run_virtual,
    virtual_runner,
)

START = datetime(2030, 1, 1, tzinfo=UTC)


def vloop() -> VirtualTimeLoop:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, VirtualTimeLoop)
    return loop


@pytest.mark.parametrize("seconds", [86400, 3 * 86400, 0.001])
def test_sleep_advances_virtual_time_by_exactly_the_delay(seconds: float) -> None:
    async def main() -> float:
        loop = vloop()
        before = loop.time()
        await asyncio.sleep(seconds)
        return loop.time() - before

    assert run_virtual(main()) == seconds  # 3 days also crosses asyncio's 1-day select cap


def test_periodic_deadlines_land_exactly_on_the_grid() -> None:
    async def main() -> list[float]:
        clock = loop_clock()
        stamps = []
        deadline = clock.start
        for _ in range(1440):
            deadline += 60  # next = previous deadline + 60: no drift by construction
            await clock.sleep_until(deadline)
            stamps.append(clock.time() - clock.start)
        assert clock.timestamp() == "2030-01-02T00:00:00.000Z"
        return stamps

    assert run_virtual(main(), start=START) == [k * 60.0 for k in range(1, 1441)]


def test_a_day_of_websocket_round_trips_on_loopback() -> None:
    async def main() -> tuple[list[float], list[float], list[float]]:
        loop = vloop()
        received: list[float] = []  # virtual time of each message at the server

        async def echo(ws: ServerConnection) -> None:
            async for message in ws:
                received.append(loop.time())
                await ws.send(message)

        sent: list[float] = []
        echoed: list[float] = []
        async with serve(echo, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/ocpp/CP001") as ws:
                deadline = loop.time()
                for k in range(1440):
                    deadline += 60
                    await asyncio.sleep(deadline - loop.time())
                    sent.append(loop.time())
                    await ws.send(f'[2,"{k}","Heartbeat",{{}}]')
                    # A 30 s timeout that must not fire spuriously: the loopback echo is
                    # readable before the loop would consider jumping to it.
                    assert await asyncio.wait_for(ws.recv(), 30) == f'[2,"{k}","Heartbeat",{{}}]'
                    echoed.append(loop.time())
        return sent, received, echoed

    wall = time.perf_counter()
    sent, received, echoed = run_virtual(main())
    wall = time.perf_counter() - wall
    print(f"24 h of 1,440 websocket round trips (and keepalive pings): {wall:.2f} s wall")

    grid = [60.0 * k for k in range(1, 1441)]
    assert sent == grid
    assert received == grid  # each message reached the server at the instant it was sent
    assert echoed == grid  # and its echo came back within the same instant


def test_wait_for_times_out_in_virtual_time_when_nothing_answers() -> None:
    async def main() -> float:
        loop = vloop()
        reader_closed = asyncio.Event()

        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read()  # never answers
            writer.close()
            reader_closed.set()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        before = loop.time()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(10), 30)
        waited = loop.time() - before
        writer.close()
        await writer.wait_closed()
        await reader_closed.wait()
        server.close()
        await server.wait_closed()
        return waited

    assert run_virtual(main()) == 30


@pytest.mark.parametrize("how", ["default", "to_thread", "own pool"])
def test_executor_work_holds_virtual_time(how: str) -> None:
    async def main() -> tuple[float, bool]:
        loop = vloop()
        alarm = asyncio.Event()
        loop.call_later(10, alarm.set)
        before = loop.time()
        if how == "default":
            await loop.run_in_executor(None, time.sleep, 0.05)
        elif how == "to_thread":
            await asyncio.to_thread(time.sleep, 0.05)
        else:
            with ThreadPoolExecutor(1) as pool:
                await loop.run_in_executor(pool, time.sleep, 0.05)
        elapsed = loop.time() - before
        fired_early = alarm.is_set()
        await alarm.wait()
        assert loop.time() - before == 10  # the timer itself still runs on its deadline
        return elapsed, fired_early

    elapsed, fired_early = run_virtual(main())
    assert elapsed < 10  # no jump while the thread worked
    assert elapsed == 0
    assert not fired_early


def test_a_cancelled_executor_job_still_holds_time_until_its_thread_returns() -> None:
    async def main() -> tuple[float, float]:
        loop = vloop()
        started = threading.Event()
        seen_by_thread: list[float] = []

        def work() -> None:
            started.set()
            time.sleep(0.05)
            seen_by_thread.append(loop.time())  # read from the worker, after its work

        job = asyncio.ensure_future(loop.run_in_executor(None, work))
        await asyncio.to_thread(started.wait)
        job.cancel()
        before = loop.time()
        await asyncio.sleep(3600)  # must not jump while work() still runs
        return seen_by_thread[0] - before, loop.time() - before

    at_thread_end, after_sleep = run_virtual(main())
    assert at_thread_end == 0
    assert after_sleep == 3600


def test_a_busy_probe_holds_the_jump_until_it_turns_false() -> None:
    async def main() -> tuple[float, list[bool], bool]:
        loop = vloop()
        answers: list[bool] = []

        def probe() -> bool:
            answers.append(len(answers) < 20)  # busy for the first 20 questions
            return answers[-1]

        remove = loop.add_busy_probe(probe)
        before = loop.time()
        await asyncio.sleep(5)
        asked_before_fire = list(answers)
        remove()
        return loop.time() - before, asked_before_fire, loop.busy()

    elapsed, answers, busy_after_removal = run_virtual(main())
    assert elapsed == 5  # fired on its deadline...
    assert answers[:20] == [True] * 20  # ...but only once the probe had said False
    assert answers[-1] is False
    assert not busy_after_removal


def test_a_busy_thread_answers_before_a_timeout_in_virtual_time() -> None:
    """An emulated modem working in a thread: its reply must beat a virtual timeout."""

    async def ask(with_probe: bool) -> str:
        loop = vloop()
        busy = threading.Event()
        reply: asyncio.Future[str] = loop.create_future()

        def modem() -> None:
            time.sleep(0.02)  # real work, e.g. a TCP connect of the emulated modem
            loop.call_soon_threadsafe(reply.set_result, "OK")
            busy.clear()  # after the reply is queued, as engine.busy() must

        if with_probe:
            loop.add_busy_probe(busy.is_set)
        busy.set()
        thread = threading.Thread(target=modem)
        thread.start()
        try:
            return await asyncio.wait_for(reply, 5)
        except TimeoutError:
            return "timeout"
        finally:
            await asyncio.to_thread(thread.join)

    assert run_virtual(ask(with_probe=True)) == "OK"
    assert run_virtual(ask(with_probe=False)) == "timeout"  # why the probe exists


def test_with_no_timer_the_loop_waits_for_the_outside_world() -> None:
    async def main() -> tuple[str, float]:
        loop = vloop()
        answer: asyncio.Future[str] = loop.create_future()
        timer = threading.Timer(0.02, loop.call_soon_threadsafe, (answer.set_result, "woken"))
        timer.start()
        result = await answer
        timer.join()
        return result, loop.time()

    assert run_virtual(main()) == ("woken", 0.0)


def test_time_only_moves_forward_to_deadlines() -> None:
    rng = random.Random(1)

    async def main() -> list[tuple[float, float, float]]:
        loop = vloop()
        runs: list[tuple[float, float, float]] = []  # (scheduled at, deadline, ran at)
        done = asyncio.Event()

        def fire(scheduled_at: float, deadline: float) -> None:
            runs.append((scheduled_at, deadline, loop.time()))
            if len(runs) < 300:
                # some deadlines already in the past, some far ahead, some not representable
                now = loop.time()
                nxt = now + rng.choice([-5.0, 0.0, 0.001, 0.1, 1.5, 60.0, 7200.0, 1e5 / 3])
                loop.call_at(nxt, fire, now, nxt)
            else:
                done.set()

        loop.call_at(1.0, fire, 0.0, 1.0)
        await done.wait()
        return runs

    runs = run_virtual(main())
    times = [ran for _, _, ran in runs]
    assert times == sorted(times)
    for scheduled_at, deadline, ran in runs:
        # a future deadline runs exactly on it, a past one at once
        assert ran == max(deadline, scheduled_at)


@pytest.mark.parametrize("start", [2.0**25, 1.9e9])
def test_timers_still_run_at_large_virtual_times(start: float) -> None:
    # past 2**24 s asyncio's 1 ns clock resolution vanishes in float rounding
    async def main() -> float:
        loop = vloop()
        await asyncio.sleep(60)
        due_now: asyncio.Future[None] = loop.create_future()
        loop.call_at(loop.time(), due_now.set_result, None)
        await due_now
        return loop.time()

    vt = VirtualTime(now=start)
    with virtual_runner(vt) as runner:
        assert runner.run(main()) == start + 60


def test_runner_reuse_and_explicit_virtual_time() -> None:
    vt = VirtualTime(now=100.0)
    with virtual_runner(vt) as runner:
        runner.run(asyncio.sleep(50))
        assert vt.time() == 150.0
        runner.run(asyncio.sleep(0.5))
    assert vt.time() == 150.5
    with asyncio.Runner(loop_factory=vt.new_loop) as runner:
        runner.run(asyncio.sleep(49.5))
    assert vt.time() == 200.0
