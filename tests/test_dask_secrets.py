"""Secrets on a Dask cluster: the local cluster speaks TLS with throwaway
certificates; a run with secrets refuses a `tcp://` scheduler off this machine
before it starts. Never aimed at a real address: the refused one is
`scheduler.invalid`, a name that never resolves."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from crawler.pools.cluster_security import secrets_refusal
from tests.conftest import crawl_command, crawl_env, records, write_urls
from tests.secret_server import SecretSite

try:
    import dask
    import distributed
except ImportError:  # pragma: no cover - the dask extra is not installed
    dask = distributed = None

needs_dask = pytest.mark.skipif(distributed is None, reason="needs Dask: pip install 'crawl[dask]'")
NOWHERE = "tcp://scheduler.invalid:8786"


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("tcp://scheduler.invalid:8786", True),
        ("scheduler.invalid:8786", True),  # no protocol: tcp, as Dask takes it
        ("ws://scheduler.invalid:8786", True),
        ("tcp://10.0.0.1:8786", True),
        ("tcp://127.0.0.1:8786", False),  # loopback: the link stays on this machine
        ("tcp://127.0.0.2:8786", False),
        ("tcp://localhost:8786", False),
        ("tcp://[::1]:8786", False),
        ("tls://scheduler.invalid:8786", False),
        ("TLS://scheduler.invalid:8786", False),
        ("inproc://10.0.0.1/1/2", False),
    ],
)
def test_which_scheduler_may_carry_secrets(address: str, refused: bool) -> None:
    assert (secrets_refusal(address) is not None) is refused


def crawl(*args: str, env: dict[str, str] | None = None):
    import subprocess

    return subprocess.run(
        crawl_command(*args),
        capture_output=True,
        text=True,
        timeout=120,
        env={**crawl_env(), **(env or {})},
    )


@needs_dask
@pytest.mark.parametrize(
    "secret",
    ["header", "cookies", "sites", "password"],
)
def test_a_run_with_secrets_refuses_a_tcp_scheduler_off_this_machine(
    tmp_path: Path, secret: str
) -> None:
    url = "http://u:pw@127.0.0.1:9/a" if secret == "password" else "http://127.0.0.1:9/a"
    urls = write_urls(tmp_path / "urls.txt", url)
    later = int(time.time()) + 3600
    (tmp_path / "c.txt").write_text(f"127.0.0.1\tFALSE\t/\tFALSE\t{later}\ts\tv\n")
    (tmp_path / "c.toml").write_text('[sites."http://127.0.0.1:9"]\nheaders = { X = "1" }\n')
    extra = {
        "header": ["--header", "X-Key: k"],
        "cookies": ["--cookies", str(tmp_path / "c.txt")],
        "sites": ["--config", str(tmp_path / "c.toml")],
        "password": [],
    }[secret]
    db = tmp_path / "db.txt"
    done = crawl(str(urls), "--output", str(db), "--scheduler", NOWHERE, *extra)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"crawl: --scheduler {NOWHERE}: this run sends")
    assert "tls://" in done.stderr
    assert not db.exists()


@needs_dask
def test_without_secrets_a_tcp_scheduler_is_tried(tmp_path: Path) -> None:
    urls = write_urls(tmp_path / "urls.txt", "http://127.0.0.1:9/a")
    env = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "1s"}
    done = crawl(str(urls), "--output", str(tmp_path / "db.txt"), "--scheduler", NOWHERE, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith(f"crawl: cannot reach the Dask scheduler at {NOWHERE}")


@needs_dask
def test_the_local_cluster_speaks_tls_and_carries_the_headers(tmp_path: Path) -> None:
    site = SecretSite().start()
    try:
        site.required = {"X-Key": "k-" + str(time.time_ns())}
        urls = write_urls(tmp_path / "urls.txt", *(site.url(f"/need/{n}") for n in range(4)))
        db = tmp_path / "db.txt"
        done = crawl(
            str(urls), "--output", str(db), "--backend", "dask", "--workers", "2",
            "--header", f"X-Key: {site.required['X-Key']}",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + "\n".join(records(db, "error"))
        assert len(records(db, "url")) == 4
    finally:
        site.stop()


@needs_dask
def test_a_client_without_the_certificates_cannot_join_the_local_cluster() -> None:
    from crawler.pools.dask import _local_cluster
    from crawler.settings import RunSettings

    with (
        dask.config.set({"distributed.comm.timeouts.connect": "2s"}),
        _local_cluster(RunSettings(workers=1, backend="dask")) as cluster,
    ):
        address = cluster.scheduler_address
        assert address.startswith("tls://127.0.0.1:")
        other = distributed.security.Security.temporary()  # another user's own certificates
        with pytest.raises((OSError, TimeoutError)):
            distributed.Client(address, security=other, timeout=2, set_as_default=False)
        plain = address.replace("tls://", "tcp://")
        with pytest.raises((OSError, TimeoutError)):
            distributed.Client(plain, timeout=2, set_as_default=False)


@needs_dask
def test_a_tls_scheduler_is_joined_with_dasks_own_tls_configuration(tmp_path: Path) -> None:
    """`dask scheduler` and `dask worker` with the three certificate files, and
    `crawl --scheduler tls://...` with DASK_DISTRIBUTED__COMM__TLS__* (the README's
    lines, on 127.0.0.1)."""
    import json
    import subprocess
    import sys

    temporary = distributed.security.Security.temporary()
    files = {"ca.pem": temporary.tls_ca_file, "cert.pem": temporary.tls_scheduler_cert,
             "key.pem": temporary.tls_scheduler_key}  # fmt: skip
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    tls = ["--tls-ca-file", "ca.pem", "--tls-cert", "cert.pem", "--tls-key", "key.pem"]
    scheduler_file = tmp_path / "scheduler.json"
    env = {k: v for k, v in crawl_env().items() if not k.startswith("DASK_")}
    common = ["--no-dashboard", "--scheduler-file", str(scheduler_file), *tls]
    started = []
    site = SecretSite().start()
    try:
        started.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--protocol", "tls",
             "--host", "127.0.0.1", "--port", "0", *common],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        give_up = time.monotonic() + 60
        while not (scheduler_file.exists() and "address" in scheduler_file.read_text()):
            assert time.monotonic() < give_up, "the scheduler did not start in 60 s"
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tls://")
        started.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--nthreads", "2",
             "--host", "127.0.0.1", *common],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        site.required = {"X-Key": "k-" + str(time.time_ns())}
        urls = write_urls(tmp_path / "urls.txt", *(site.url(f"/need/{n}") for n in range(3)))
        db = tmp_path / "db.txt"
        config = {
            "DASK_DISTRIBUTED__COMM__TLS__CA_FILE": str(tmp_path / "ca.pem"),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT": str(tmp_path / "cert.pem"),
            "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY": str(tmp_path / "key.pem"),
        }
        done = crawl(
            str(urls), "--output", str(db), "--scheduler", address,
            "--header", f"X-Key: {site.required['X-Key']}", env=config,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr + "\n".join(records(db, "error"))
        assert len(records(db, "url")) == 3
    finally:
        site.stop()
        for process in started:
            process.kill()
            process.wait(15)
