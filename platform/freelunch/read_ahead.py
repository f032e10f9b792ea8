"""A thread that makes a generator's items a few ahead of the caller, so its I/O overlaps the caller's work.

The manifest import reads and checks the next chunks while the database stores one; the exports read the next
slices, on a connection of their own, while the writer writes one.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

T = TypeVar("T")
_END = object()


def read_ahead(
    items: Callable[[], Iterator[T]],
    depth: int,
    name: str,
    inside: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
) -> Generator[T, None, None]:
    """What ``items()`` yields, made in a thread (within ``inside()``, e.g. a database connection of its own) up to
    ``depth`` items ahead of the caller.

    The thread stops when the caller does (a closed generator, an error), after the item it is making, and closes
    ``items()`` there (its file, now); an error in the thread is raised here."""
    made: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item) -> bool:
        while not stop.is_set():
            try:
                made.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def make() -> None:
        try:
            with inside():
                made_items = items()
                try:
                    for item in made_items:
                        if not offer(item):
                            return
                finally:
                    close = getattr(made_items, "close", None)
                    if close is not None:
                        close()
        except BaseException as error:  # handed to the caller, which raises it
            offer(error)
            return
        offer(_END)

    thread = threading.Thread(target=make, name=name, daemon=True)
    thread.start()
    try:
        while (item := made.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
