"""The HTTP transport reads the environment once. Without a proxy or a .netrc, the crawl's
own transport (crawler.fetching.transports.wire) fetches, trusting the CA bundle the
environment names as requests would; with either, requests' transport does, and looks them
up per request as requests does."""

from __future__ import annotations

import os

import pytest

from crawler.fetching.fetch import make_transport
from crawler.fetching.transports.http import HttpTransport
from crawler.fetching.transports.wire import WireTransport, proxied_environment
from crawler.settings import FetchSettings

CASES = [
    # (environment, files under HOME, expected trust_env, expected verify)
    ({}, [], False, True),
    ({"REQUESTS_CA_BUNDLE": "/etc/bundle.pem"}, [], False, "/etc/bundle.pem"),
    ({"CURL_CA_BUNDLE": "/etc/curl.pem"}, [], False, "/etc/curl.pem"),
    ({"REQUESTS_CA_BUNDLE": "/a.pem", "CURL_CA_BUNDLE": "/b.pem"}, [], False, "/a.pem"),
    ({"HTTPS_PROXY": "http://proxy.invalid:3128"}, [], True, True),
    ({"http_proxy": "http://proxy.invalid:3128"}, [], True, True),
    ({"NO_PROXY": "example.com"}, [], True, True),
    ({}, [".netrc"], True, True),
    ({"NETRC": "{home}/elsewhere"}, ["elsewhere"], True, True),
    ({"NETRC": "{home}/missing"}, [".netrc"], False, True),  # NETRC wins, and is absent
]


@pytest.mark.parametrize(("environ", "files", "trust_env", "verify"), CASES)
def test_session_takes_the_environment_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path, environ, files, trust_env, verify
) -> None:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name in (
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "NETRC",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in environ.items():
        monkeypatch.setenv(name, value.format(home=tmp_path))
    for name in files:
        (tmp_path / name).write_text("machine example.com login a password b\n")

    transport = make_transport(FetchSettings())

    assert proxied_environment() is trust_env
    if trust_env:  # a proxy or a .netrc: requests, which honours them per request
        assert isinstance(transport, HttpTransport)
        assert transport.session.trust_env
        assert transport.session.verify == verify
    else:
        assert isinstance(transport, WireTransport)
        assert transport.verify == verify
        session = HttpTransport().session  # requests' transport, when it runs, reads it once
        assert session.trust_env is False
        assert session.verify == verify
