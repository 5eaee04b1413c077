"""crawler.frontier.spill: jobs set aside on disk come back as they went."""

from __future__ import annotations

from crawler.frontier.spill import Spill
from crawler.model import Job


def test_jobs_come_back_in_order() -> None:
    spill = Spill()
    assert list(spill.replay()) == []
    jobs = [Job(1, "http://a/x?q=1#f", ()), Job(7, "http://b/é", ("board",)),
            Job(9, "https://c:8443/", ("board", "other"))]  # fmt: skip
    for job in jobs:
        spill.add(job)
    assert spill.count == 3
    assert list(spill.replay()) == jobs
    spill.close()


def test_a_full_disk_says_no(monkeypatch) -> None:
    def no_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("crawler.frontier.spill.tempfile.TemporaryFile", no_disk)
    spill = Spill()
    assert spill.add(Job(1, "http://a/", ())) is False
    assert spill.broken and spill.count == 0
    assert list(spill.replay()) == []
