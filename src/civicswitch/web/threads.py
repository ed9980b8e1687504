"""Blocking work of the hot paths (Open311 POST, lists, one request on PostgreSQL) run off the event loop.

Starlette's ``run_in_threadpool`` goes through anyio: a capacity limiter, a cancel scope and a task lookup around
each call, which costs the event loop about as much as the rest of a POST's own work there (profiled for issue 9).
The hot paths use one process-wide thread pool through asyncio's own ``run_in_executor`` instead. The pool has as
many threads as anyio's default limiter (40), started as needed and kept for reuse.

A call abandoned by its caller (the client went away) still runs to its end in its thread, as with anyio: a use case
that commits does so whole or not at all.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
THREADS = 40  # anyio's default thread limiter: the same bound on blocking calls as the other routes

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="civicswitch-hot")
    return _pool


async def in_thread(call: Callable[[], T]) -> T:
    """``call()`` in the hot paths' thread pool; its result or its exception."""
    return await asyncio.get_running_loop().run_in_executor(_executor(), call)
