"""Running the app: uvloop, aiohttp's server with handler cancellation on client disconnect, and
``--workers N`` processes sharing one listening socket.

With several workers the parent binds the socket, forks the workers (each builds its own app,
event loop, store connections and upstream pool after the fork) and waits; a signal to the parent
stops them all, and a worker that dies takes the others down too, so a supervisor sees the
failure instead of a silently smaller server. State the workers share lives in the database and,
for rate limits and key caches, in Redis: that is why ``unigate serve`` asks for
``UNIGATE_REDIS_URL`` with more than one worker (a limit kept in each worker's memory would be N
times too high). The workers' metrics add up in files of a directory the parent makes for this
start and removes at the end (``observability/metrics.py``), so ``/metrics`` shows the whole
gateway whichever worker answers it.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable

import uvloop
from aiohttp import web

from unigate.app import create_app
from unigate.observability import metrics
from unigate.settings import Settings

__all__ = ["run"]


def _serve(settings: Settings, *, sock: socket.socket | None, announce: Callable[[str], None]) -> None:
    """Serve until interrupted. ``handler_cancellation`` makes a client disconnect cancel its
    request's task, which stops generation and settles credits."""
    app = create_app(settings)
    _tune_gc()

    async def ready(_: web.Application) -> None:
        announce(f"unigate is serving on http://{settings.host}:{settings.port} (Ctrl-C stops it)")

    app.on_startup.append(ready)
    web.run_app(
        app,
        host=None if sock else settings.host,
        port=None if sock else settings.port,
        sock=sock,
        access_log=None,
        print=None,
        handler_cancellation=True,
        loop=uvloop.new_event_loop(),
    )


def _tune_gc() -> None:
    """What start-up built (the catalog, routes, compiled schemas: most of the heap) stays for the
    life of the process: ``freeze`` takes it out of every future collection. A request allocates a
    few thousand objects, almost none in cycles, so collecting the young generation every 700
    allocations (the default) would run several collections per request for nothing."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def run(settings: Settings, *, workers: int = 1, announce: Callable[[str], None] = lambda _: None) -> None:
    if workers <= 1:
        _serve(settings, sock=None, announce=announce)
        return
    sock = socket.create_server((settings.host, settings.port), reuse_port=False, backlog=1024)
    sock.setblocking(False)
    # A fresh directory per start: the files are named by process id and add up, so a previous
    # run's (or a reused pid's) must not count. Under the operator's PROMETHEUS_MULTIPROC_DIR if set.
    shared = tempfile.mkdtemp(prefix="unigate-metrics-", dir=os.environ.get(metrics.MULTIPROC_ENV) or None)
    try:
        metrics.share_between_processes(shared)
        _run_workers(settings, sock, workers, announce)
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def _run_workers(settings: Settings, sock: socket.socket, workers: int, announce: Callable[[str], None]) -> None:
    children: list[int] = []
    for i in range(workers):
        pid = os.fork()
        if pid == 0:  # the worker: serve on the inherited socket, never return to the parent's code
            code = 0
            try:
                _serve(settings, sock=sock, announce=announce if i == 0 else (lambda _: None))
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    sock.close()

    def stop(signum: int, _frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    failed = False
    remaining = set(children)
    while remaining:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        remaining.discard(pid)
        metrics.process_stopped(pid)
        if os.waitstatus_to_exitcode(status) not in (0, -signal.SIGTERM) and not failed:
            failed = True
            stop(signal.SIGTERM, None)
    if failed:
        sys.exit(1)
