"""The worker side of a pool: its set-up, and the task function the pool calls.

Everything here is importable at module level and takes its state from the pool
initializer, so it works under every start method (`fork`, `spawn`, and
`forkserver`, the default from Python 3.14 on).
"""

from __future__ import annotations

import dataclasses
import faulthandler
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable

import requests

from crawler.fetch import fetch, make_session
from crawler.model import Failure, FetchPolicy, Page, Result
from crawler.settings import FetchSettings
from crawler.taskboard import TaskBoard

_session: requests.Session | None = None
_settings: FetchSettings | None = None
_hard_limit: float | None = None
_devnull = None
_board: TaskBoard | None = None


def init_process_worker(settings: FetchSettings, board: TaskBoard | None = None) -> None:
    """Pool initializer for worker processes.

    Workers ignore SIGINT and SIGHUP: the main process decides what an interrupt
    means and ends them. They exit on their own when the main process is gone.
    A task still running past `settings.task_limit()` is stuck where no timeout
    reaches (in C code): the worker is ended, and the main process's watchdog
    writes the task off. `board` tells the main process which task this worker
    runs, so that it learns at once which task a dead worker took with it."""
    global _hard_limit, _devnull, _board
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _hard_limit = settings.task_limit()
    if board is not None:
        board.claim()
        _board = board
    _devnull = open(os.devnull, "w")  # noqa: SIM115 - held for the worker's lifetime
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    init_worker(settings)


def init_worker(settings: FetchSettings) -> None:
    """Give this worker its settings and its one Session (connections are reused)."""
    global _session, _settings
    _settings = settings
    _session = make_session(settings)


def _exit_with_parent(parent: int) -> None:
    """Exit within a second of the main process's death, however it died.

    Under `fork` and `spawn` the main process is this worker's parent. Under
    `forkserver` the parent is the fork server, which outlives a killed main
    process as long as any worker does (each worker holds the pipe whose end
    tells it to stop), so the worker also watches the sentinel of the process
    that created it: the main process."""
    creator = multiprocessing.parent_process()
    sentinel = creator.sentinel if creator is not None else None
    while os.getppid() == parent:
        if sentinel is None:
            time.sleep(0.5)
        elif multiprocessing.connection.wait([sentinel], timeout=0.5):
            break
    os._exit(1)


def fetch_url(
    url: str, task_id: int = 0, max_bytes: int | None = None, policy: FetchPolicy | None = None
) -> Result:
    """The pool's task: fetch `url` with this worker's session and settings
    (`max_bytes` lowers the size cap, for robots.txt), checked by `policy` for a
    URL the crawl found (see `crawler.fetch`; None for a listed URL).

    `fetch` returns a value for every outcome of the network; anything else it
    raises, `run_task` turns into a Failure."""
    assert _session is not None and _settings is not None, "worker not initialized"
    settings = _settings
    if max_bytes is not None and max_bytes < settings.max_bytes:
        settings = dataclasses.replace(settings, max_bytes=max_bytes)
    return fetch(_session, url, settings, policy)


_PAGE_TYPES = (str, int, str, (str, type(None)), int, int, int, bool, bool, str, tuple, tuple)
_FAILURE_TYPES = (str, str, int, bool)


def _plain(result: object) -> bool:
    """Whether `result` is a Page or a Failure made of plain str/int/None fields,
    which the main process can always unpickle."""
    if type(result) is Page:
        types = _PAGE_TYPES
    elif type(result) is Failure:
        types = _FAILURE_TYPES
    else:
        return False
    if not all(isinstance(value, kind) for value, kind in zip(result, types, strict=True)):
        return False
    if type(result) is Page:
        return all(type(url) is str for url in result.redirects) and all(
            type(pair) is tuple and len(pair) == 2 and all(type(part) is str for part in pair)
            for pair in result.headers
        )
    return True


def run_task(task: Callable[..., Result], url: str, task_id: int = 0, *extra: object) -> Result:
    """What the pool runs: `task(url, task_id, *extra)`, made safe to send back.

    An exception that crosses back to the main process must be unpickled there by
    the pool's one result thread; a class that cannot be rebuilt (a required
    argument missing from its `args`) kills that thread, and every later result
    is lost. So whatever the task raises comes back as a Failure naming the
    exception's type, and anything it returns that is not a plain Page or Failure
    becomes one too. SystemExit and KeyboardInterrupt still end the worker.

    The task board shows the task while it runs, and the hard limit (see
    `init_process_worker`) is armed around it, whatever the task function is."""
    if _board is not None:
        _board.running(task_id)
    if _hard_limit is not None:
        faulthandler.dump_traceback_later(_hard_limit, exit=True, file=_devnull)
    try:
        result = task(url, task_id, *extra)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as error:  # noqa: BLE001 - see the docstring
        return Failure(url, f"worker error: {type(error).__name__}", 1)
    finally:
        if _hard_limit is not None:
            faulthandler.cancel_dump_traceback_later()
        if _board is not None:
            _board.idle()
    if not _plain(result):
        return Failure(url, f"worker error: bad result {type(result).__name__}", 1)
    return result
