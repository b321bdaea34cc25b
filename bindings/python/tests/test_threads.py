"""The batch calls release the GIL for the whole batch and work from several threads."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

import sig_voip

pytestmark = pytest.mark.threads

BIG = ["529.982.247-25", "52998224726", "12.ABC.345/01DE-35", "34665388000162"] * 500_000


@pytest.fixture
def long_switch_interval() -> Iterator[None]:
    """With a 10 min switch interval a thread only gets the GIL when the holder gives it up
    (a blocking call, or native code that detaches), never by preemption during the test —
    even when a loaded 2-core machine makes the control's sort take many seconds."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(600.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def progress_during(call: Callable[[], object]) -> int:
    """How many steps a spinning Python thread makes while ``call`` runs in this thread."""
    count = 0
    stop = threading.Event()
    started = threading.Event()

    def spin() -> None:
        nonlocal count
        started.set()
        while not stop.is_set():
            count += 1
            time.sleep(0)  # releases the GIL, so this thread hands it back at once

    spinner = threading.Thread(target=spin)
    spinner.start()
    started.wait()
    try:
        before = count
        call()
        after = count
    finally:
        stop.set()
        spinner.join()
    return after - before


@pytest.mark.usefixtures("long_switch_interval")
def test_other_threads_run_while_a_batch_validates() -> None:
    # Control: native code that keeps the GIL lets the spinner make no progress at all.
    assert progress_during(lambda: sorted(BIG)) == 0
    assert progress_during(lambda: sig_voip.validate_tax_ids(BIG)) > 0


@pytest.mark.parametrize(
    "batch",
    [sig_voip.validate_tax_ids, sig_voip.validate_ceps, sig_voip.validate_phones,
     sig_voip.validate_emails],
)
def test_batches_from_several_threads_agree(batch: Callable[[list[str]], list[bool]]) -> None:
    values = ["529.982.247-25", "01001-000", "(11) 98765-4321", "ana@example.com", "x"] * 20_000
    expected = batch(values)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: batch(values), range(8)))
    assert all(r == expected for r in results)


def test_a_list_changed_by_another_thread_during_a_batch_is_safe() -> None:
    values = list(BIG)
    stop = threading.Event()

    def mutate() -> None:
        while not stop.is_set():
            values.append("x")
            values.pop(0)

    mutator = threading.Thread(target=mutate)
    mutator.start()
    try:
        for _ in range(5):
            result = sig_voip.validate_tax_ids(values)
            assert len(result) == len(BIG)
    finally:
        stop.set()
        mutator.join()
