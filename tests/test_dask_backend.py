"""`--backend dask`: the contract on a Dask cluster.

Integration tests run the real `crawl` against tests/server.py: with a local
cluster it starts itself, and through `--scheduler` with a real `dask scheduler`
and two `dask worker` processes on 127.0.0.1 that cannot import crawl on their
own (it reaches them by upload). Every process a test starts is ended by it; the
signal tests also check that crawl leaves none of its cluster's processes behind.
The adapter's own logic is tested in-process, on a cluster of threads.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest
from warcio.archiveiterator import ArchiveIterator

from pipelines.records import read_line
from tests.conftest import ROOT, crawl_env, records, run_crawl, start_crawl, write_urls
from tests.server import page_text

if TYPE_CHECKING:
    from tests.server import TestServer

try:
    import distributed
except ImportError:  # the tests that need no Dask still run
    distributed = None

needs_dask = pytest.mark.skipif(distributed is None, reason="needs Dask: pip install 'crawl[dask]'")

UP_WITHIN = 60.0  # bound on a cluster coming up or a run ending, on a loaded 2-core CI


def wait_for(ready: Callable[[], bool], within: float = UP_WITHIN, what: str = "it") -> None:
    deadline = time.monotonic() + within
    while not ready():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {within:.0f} s")
        time.sleep(0.05)


def end_all(processes: list[psutil.Process]) -> None:
    """Fail if any of `processes` outlives a bounded wait; kill them either way."""
    _, alive = psutil.wait_procs(processes, timeout=15)
    for process in alive:
        process.kill()
    assert not alive, f"left running: {[p.pid for p in alive]}"


def descendants(pid: int) -> list[psutil.Process]:
    return psutil.Process(pid).children(recursive=True)


def lines_for(db: Path, url: str) -> list[str]:
    return [
        line
        for line in records(db)
        if line.startswith(("url:", "error:")) and read_line(line).key == url
    ]


# -- without Dask -------------------------------------------------------------------


def test_without_dask_the_backend_says_how_to_install_it(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked" / "distributed"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('not installed')\n")
    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/page/a")
    db = tmp_path / "db.txt"
    env = crawl_env()
    env["PYTHONPATH"] = f"{blocked.parent}{os.pathsep}{env['PYTHONPATH']}"
    done = subprocess.run(
        [sys.executable, "-m", "crawler", str(urls), "--backend", "dask", "--output", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr == "crawl: --backend dask needs Dask: pip install 'crawl[dask]'\n"
    assert not db.exists()


def test_scheduler_needs_the_dask_backend(tmp_path: Path) -> None:
    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/page/a")
    done = run_crawl(str(urls), "--backend", "process", "--scheduler", "tcp://127.0.0.1:9")
    assert done.returncode == 2
    assert "--scheduler and --dashboard need --backend dask" in done.stderr


@needs_dask
def test_a_scheduler_that_cannot_be_reached_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """Named by DASK_SCHEDULER_ADDRESS here (the flag's way is the cluster test's)."""
    closed_port = "tcp://127.0.0.1:9"  # discard: nothing listens there
    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/page/a")
    db = tmp_path / "db.txt"
    args = [str(urls), "--output", str(db), "--backend", "dask"]
    env = crawl_env()
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = "1s"  # Dask's own bound on connecting
    env["DASK_SCHEDULER_ADDRESS"] = closed_port
    done = subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert done.stderr.startswith(f"crawl: cannot reach the Dask scheduler at {closed_port}")
    assert done.stderr.count("\n") == 1, done.stderr
    assert not db.exists() or records(db) == []


@pytest.mark.parametrize(
    ("argv", "environment", "expected"),
    [
        ([], None, ("process", None, os.cpu_count() or 1)),
        ([], "tcp://env:8786", ("process", None, os.cpu_count() or 1)),  # env alone: no
        (["--backend", "dask"], None, ("dask", None, os.cpu_count() or 1)),
        (["--backend", "dask"], "tcp://env:8786", ("dask", "tcp://env:8786", 0)),
        (["--scheduler", "tcp://s:8786"], "tcp://env:8786", ("dask", "tcp://s:8786", 0)),
        (["--scheduler", "tcp://s:8786", "--workers", "5"], None, ("dask", "tcp://s:8786", 5)),
        (["--backend", "dask", "--workers", "3"], None, ("dask", None, 3)),
    ],
)
def test_which_backend_a_command_line_picks(
    argv: list[str], environment: str | None, expected: tuple, monkeypatch
) -> None:
    """0 workers: as many tasks at once as the joined cluster has threads."""
    from crawler.cli import build_parser, resolve_backend

    if environment is None:
        monkeypatch.delenv("DASK_SCHEDULER_ADDRESS", raising=False)
    else:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", environment)
    parser = build_parser()
    args = parser.parse_args(["urls.txt", *argv])
    resolve_backend(args, parser)
    assert (args.backend, args.scheduler, args.workers) == expected


@needs_dask
def test_a_held_lock_exits_75_before_any_cluster_starts(tmp_path: Path) -> None:
    from pipelines.run_lock import RunLock

    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/page/a")
    db = tmp_path / "db.txt"
    lock = RunLock(db)
    lock.acquire()
    try:
        done = run_crawl(str(urls), "--backend", "dask", "--output", str(db))
    finally:
        lock.release()
    assert done.returncode == 75
    assert "nothing fetched" in done.stderr
    assert not db.exists()


# -- a local cluster ------------------------------------------------------------------


@needs_dask
def test_local_cluster_writes_one_line_per_url(server: TestServer, tmp_path: Path) -> None:
    page_a, page_b = server.url("/page/a"), server.url("/page/b")
    board, missing = server.url("/board"), server.url("/status/404")
    flaky = server.url("/flaky/dask?fail=1")
    drip = server.url("/drip?bytes=100&every=0.4")  # 40 s of body for a 1 s budget
    urls = write_urls(
        tmp_path / "urls.txt",
        page_a,
        f"{board}  board",
        missing,
        "no-scheme.example/x",
        flaky,
        page_b,
        page_a,  # listed twice: fetched once
        drip,
    )
    db = tmp_path / "db.txt"
    done = run_crawl(
        str(urls),
        "--backend",
        "dask",
        "--workers",
        "2",
        "--output",
        str(db),
        "--timeout",
        "1",
        "--retries",
        "1",
        "--warc",
        str(tmp_path / "archive"),
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    (archive,) = (tmp_path / "archive").glob("*.warc.gz")  # written from the cluster's records
    with open(archive, "rb") as stream:
        statuses = [(record.rec_headers.get_header("WARC-Target-URI"),
                     record.http_headers.get_statuscode())
                    for record in ArchiveIterator(stream, check_digests="raise")
                    if record.rec_type == "response"]  # fmt: skip
    assert {(page_a, "200"), (board, "200"), (missing, "404"), (flaky, "503"),
            (flaky, "200")} <= set(statuses)  # fmt: skip
    lines = records(db)
    assert lines[0].startswith("run:") and " start " in lines[0]
    assert lines[-1].startswith("run:") and " end status=finished ok=4 failed=3 " in lines[-1]
    assert sorted(records(db, "url")) == sorted(
        [
            f"url:<{page_a}> size:[{len(page_text('a'))}]",
            f"url:<{page_b}> size:[{len(page_text('b'))}]",
            f"url:<{board}> size:[5287]",
            f"url:<{flaky}> size:[{len(page_text('flaky dask'))}]",
        ]
    )
    assert sorted(records(db, "error")) == sorted(
        [
            f"error:<{missing}> HTTP 404",
            "error:<no-scheme.example/x> line 4: not an http(s) URL",
            f"error:<{drip}> timed out after 2 attempts",  # the read loop's deadline, in a thread
        ]
    )
    assert len(records(db, "board")) == 5
    assert records(db, "board")[0] == (
        f'board:<{board}> {{"index": "1", "title": "霸王别姬", '
        '"actor": "张国荣,张丰毅,巩俐", "time": "1993-01-01", "score": "9.5"}'
    )
    assert len(lines) == 2 + 4 + 3 + 5
    assert server.count("/page/a") == 1
    assert server.count("/flaky/dask") == 2  # one failure, one retry


@needs_dask
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_local_cluster_stops_on_a_signal(
    server: TestServer, tmp_path: Path, signum: signal.Signals
) -> None:
    """Ctrl-C reaches the whole process group (crawl and its Dask processes);
    SIGTERM only crawl. Either way: the finished page is kept, the abandoned tasks
    get no line, the exit status says which signal, and no process is left."""
    done_url = server.url("/page/done")
    slow = [server.url(f"/slow?seconds=60&n={n}") for n in range(4)]
    urls = write_urls(tmp_path / "urls.txt", done_url, *slow)
    db = tmp_path / "db.txt"
    args = ["--backend", "dask", "--workers", "2", "--output", str(db), "--timeout", "90", "-q"]
    crawl = subprocess.Popen(
        [sys.executable, "-m", "crawler", str(urls), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=crawl_env(),
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: db.exists() and bool(records(db, "url")), what="the first page")
        wait_for(lambda: server.count("/slow") >= 2, what="both workers busy")
        started = descendants(crawl.pid)
        if signum == signal.SIGINT:
            os.killpg(crawl.pid, signum)
        else:
            crawl.send_signal(signum)
        _, stderr = crawl.communicate(timeout=UP_WITHIN)
    finally:
        if crawl.poll() is None:
            crawl.kill()
    assert crawl.returncode == 128 + signum
    assert f"crawl: interrupted by {signum.name}" in stderr
    assert "Traceback" not in stderr
    assert records(db, "url") == [f"url:<{done_url}> size:[{len(page_text('done'))}]"]
    assert records(db, "error") == []
    assert " end status=interrupted " in records(db, "run")[-1]
    end_all(started)


# -- a real scheduler and workers ------------------------------------------------------

HIDE_CRAWL = """\
import sys


class HideCrawl:
    '''crawl is not installed here: only an uploaded crawl-*.zip provides it.'''

    def find_spec(self, name, path=None, target=None):
        if name in ("crawler", "pipelines") and not any(
            entry.rsplit("/", 1)[-1].startswith("crawl-") and entry.endswith(".zip")
            for entry in sys.path
        ):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, HideCrawl())
"""


class Cluster:
    """`dask scheduler` and `dask worker` subprocesses on 127.0.0.1 that cannot
    import crawl unless it is uploaded to them."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        hide = folder / "hide"
        hide.mkdir()
        (hide / "sitecustomize.py").write_text(HIDE_CRAWL)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
        self.env["PYTHONPATH"] = str(hide)
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []

    def _start(self, *args: str) -> subprocess.Popen:
        log = open(self.folder / f"dask-{len(self.processes)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_" + args[0], *args[1:]],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.folder,
        )
        log.close()
        self.processes.append(process)
        return process

    def start(self, workers: int) -> str:
        self._start(
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(self.scheduler_file),
        )
        wait_for(self.scheduler_file.exists, what="the scheduler")
        wait_for(lambda: "address" in self.scheduler_file.read_text(), what="its address")
        address = json.loads(self.scheduler_file.read_text())["address"]
        for _ in range(workers):
            worker = self._start(
                "worker",
                "--scheduler-file",
                str(self.scheduler_file),
                "--nthreads",
                "1",
                "--no-nanny",  # the process killed is the worker itself
                "--no-dashboard",
                "--host",
                "127.0.0.1",
            )
            self.workers.append(worker)
        with distributed.Client(address, timeout=UP_WITHIN, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=UP_WITHIN)
        return address

    def stop(self) -> None:
        """Kill, not terminate: a worker told to stop gracefully first tries to
        reach a scheduler that may be gone, for many seconds."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait(15)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    try:
        yield cluster
    finally:
        cluster.stop()


@needs_dask
def test_a_killed_worker_costs_no_line_and_doubles_none(
    server: TestServer, tmp_path: Path, cluster: Cluster
) -> None:
    address = cluster.start(workers=2)
    slow = [server.url(f"/slow?seconds=1.5&n={n}") for n in range(4)]
    pages = [server.url(f"/page/p{n}") for n in range(6)]
    urls = write_urls(tmp_path / "urls.txt", *slow, *pages)
    db = tmp_path / "db.txt"
    crawl = start_crawl(str(urls), "--scheduler", address, "--output", str(db), "--timeout", "20")
    try:
        wait_for(lambda: server.count("/slow") >= 2, what="both workers busy")
        doomed = cluster.workers[0]
        doomed.kill()  # SIGKILL: its task is lost mid-fetch
        doomed.wait(10)
        _, stderr = crawl.communicate(timeout=UP_WITHIN)
    finally:
        if crawl.poll() is None:
            crawl.kill()
            crawl.wait(5)
    assert crawl.returncode == 0, stderr
    for url in slow + pages:
        name = url.rsplit("/", 1)[-1] if "/page/" in url else "slow"
        assert lines_for(db, url) == [f"url:<{url}> size:[{len(page_text(name))}]"]
    assert len(records(db)) == 2 + len(slow) + len(pages)
    assert server.count("/slow") > len(slow)  # the lost fetch was run again
    assert "Traceback" not in stderr
    with distributed.Client(address, timeout=UP_WITHIN, set_as_default=False) as client:
        # a lambda travels by value: the workers cannot import this test module
        where = client.run(lambda: __import__("crawler.fetching.worker").fetching.worker.__file__)
    assert where and all("/crawl-" in path and ".zip/" in path for path in where.values())


# -- the adapter, in-process -------------------------------------------------------------


@needs_dask
@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ((KeyError, KeyError("k"), None), KeyError),
        (ValueError("v"), ValueError),
        ("neither", RuntimeError),
    ],
)
def test_an_errored_future_hands_its_exception_on(result: object, expected: type) -> None:
    from crawler.pools.dask import _exception_of

    assert type(_exception_of(result)) is expected


@needs_dask
def test_a_task_dask_gave_up_on_is_lost_as_the_process_pool_says_it() -> None:
    """KilledWorker (its workers kept dying) reads `worker lost`, as on the process pool."""
    from crawler.pools.base import TaskLost
    from crawler.pools.dask import _exception_of

    error = _exception_of((None, distributed.KilledWorker("k", None, 3), None))
    assert isinstance(error, TaskLost) and str(error) == "worker lost"


def fail(value: int) -> int:
    raise ValueError(value)


@pytest.fixture(scope="module")
def threads_cluster() -> Iterator[distributed.LocalCluster]:
    """A cluster of threads in this process: the adapter's logic, without start-up cost."""
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster


@needs_dask
def test_each_task_calls_back_once_and_is_released(threads_cluster) -> None:
    from crawler.pools.dask import DaskPool

    pool = DaskPool(distributed.Client(threads_cluster, set_as_default=False))
    results: list[int] = []
    errors: list[BaseException] = []
    for n in range(20):
        pool.apply_async(abs, (-n,), callback=results.append, error_callback=errors.append)
    pool.apply_async(fail, (7,), callback=results.append, error_callback=errors.append)
    pool.apply_async(abs, (-1,))  # no callbacks asked for: fine
    wait_for(lambda: len(results) + len(errors) == 21, within=30, what="all callbacks")
    assert sorted(results) == list(range(20))
    assert [type(e) for e in errors] == [ValueError]
    # Nothing of a finished task is kept, here or on the cluster: memory stays flat.
    wait_for(lambda: not pool.client.futures, within=10, what="futures released")
    wait_for(lambda: not pool.client.who_has(), within=10, what="results released")
    pool.close()
    pool.join()
    assert pool.client.status == "closed"


@needs_dask
def test_same_call_twice_runs_twice(threads_cluster) -> None:
    """pure=False: Dask must not serve a URL's second fetch from its first."""
    from crawler.pools.dask import DaskPool

    pool = DaskPool(distributed.Client(threads_cluster, set_as_default=False))
    seen: list[float] = []
    pool.apply_async(time.time, (), callback=seen.append)
    wait_for(lambda: len(seen) == 1, within=30, what="first call")
    pool.apply_async(time.time, (), callback=seen.append)
    wait_for(lambda: len(seen) == 2, within=30, what="second call")
    assert seen[0] != seen[1]
    pool.terminate()


@needs_dask
def test_no_callback_after_terminate(threads_cluster) -> None:
    from crawler.pools.dask import DaskPool

    pool = DaskPool(distributed.Client(threads_cluster, set_as_default=False))
    calls: list[object] = []
    pool.apply_async(time.sleep, (1.0,), callback=calls.append, error_callback=calls.append)
    pool.terminate()  # cancels the task: its error callback must not run either
    assert not pool._collector.is_alive()  # nothing is left that could call back
    assert calls == []
    with pytest.raises(ValueError):
        pool.apply_async(abs, (1,))


def sleepy_fetch(url: str, task_id: int = 0, *_extras: object):
    """A stand-in task: a page at once, or after `?sleep=S` seconds (the task's
    trailing arguments ignored)."""
    from crawler.model import Page

    if "sleep=" in url:
        time.sleep(float(url.rsplit("sleep=", 1)[1]))
    return Page(url, 200, "text/html", "text", 4, 4, 1)


@needs_dask
def test_the_watchdog_writes_off_a_silent_task_once(threads_cluster, tmp_path: Path) -> None:
    """Dask cannot tell of a task that hangs: the watchdog's time limit finds a task
    that does not answer; its late answer is then dropped, so the URL still has one
    line."""
    import io

    from crawler.loop import DispatchLoop, Limits
    from crawler.model import Job
    from crawler.pools.dask import DaskPool
    from crawler.report import Reporter
    from crawler.results import Outputs
    from pipelines.writer import Writer

    pool = DaskPool(distributed.Client(threads_cluster, set_as_default=False))
    writer = Writer(tmp_path / "db.txt")
    scheduler = DispatchLoop(
        pool,
        Outputs(writer, Reporter(progress=False, quiet=True, stream=io.StringIO())),
        Limits(max_in_flight=2, watchdog_limit=1.0),
        task=sleepy_fetch,
    )
    silent, quick = "http://h/silent?sleep=3", "http://h/quick"
    outcome = scheduler.run([Job(1, silent, ()), Job(2, quick, ())])
    assert (outcome.stats.ok, outcome.stats.failed) == (1, 1)
    assert not scheduler.clean
    wait_for(lambda: not pool._handlers, within=30, what="the late answer")
    pool.terminate()
    writer.close()
    assert sorted(records(tmp_path / "db.txt")) == [
        f"error:<{silent}> worker lost (no answer in time)",
        f"url:<{quick}> size:[4]",
    ]
