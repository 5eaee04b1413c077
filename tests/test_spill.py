"""crawler.frontier.spill: lines set aside on disk come back per host, in order."""

from __future__ import annotations

from crawler.frontier.spill import Spill


def test_lines_come_back_per_host_in_order() -> None:
    spill = Spill()
    assert spill.pop("http://a") is None
    lines = {"http://a": ["1\thttp://a/x?q=1#f", "2\thttp://a/é"], "http://b": ["3\thttp://b/"]}
    for n in range(2):
        for host, texts in lines.items():
            if n < len(texts):
                assert spill.add(host, texts[n])
    assert spill.count == 3 and spill.count_for("http://a") == 2
    assert list(spill.hosts()) == ["http://a", "http://b"]
    assert spill.pop("http://b") == "3\thttp://b/"
    assert spill.add("http://a", "4\thttp://a/later")
    assert [spill.pop("http://a") for _ in range(4)] == [
        *lines["http://a"],
        "4\thttp://a/later",
        None,
    ]
    assert spill.count == 0 and list(spill.hosts()) == []
    spill.close()


def test_a_full_disk_says_no(monkeypatch) -> None:
    def no_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("crawler.frontier.spill.tempfile.TemporaryFile", no_disk)
    spill = Spill()
    assert spill.add("http://a", "1\thttp://a/") is False
    assert spill.broken and spill.count == 0
    assert spill.pop("http://a") is None
