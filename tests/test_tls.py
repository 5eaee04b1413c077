"""crawler.fetching.tls: which CA files a worker trusts on top of requests' bundle, and the
command line's check of --ca-bundle (fetches over TLS: tests/test_fetch_failures.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trustme

from crawler.fetching.tls import ca_bundle_problem, extra_trust

# (environment, --ca-bundle, what is trusted besides requests' own bundle, in order)
EXTRAS = [
    ({}, None, ()),
    ({"REQUESTS_CA_BUNDLE": "/a.pem"}, None, ()),  # that one replaces requests' default
    ({"SSL_CERT_FILE": "/c.pem"}, None, ("/c.pem",)),
    ({"SSL_CERT_DIR": "/certs"}, None, ("/certs",)),
    ({"SSL_CERT_DIR": f"/one{os.pathsep}/two"}, None, ("/one", "/two")),
    ({"SSL_CERT_FILE": ""}, None, ()),
    ({}, Path("/site-ca.pem"), ("/site-ca.pem",)),
    (
        {"SSL_CERT_FILE": "/c.pem", "SSL_CERT_DIR": "/certs"},
        Path("/site-ca.pem"),
        ("/c.pem", "/certs", "/site-ca.pem"),
    ),
]


@pytest.mark.parametrize(("environ", "ca_bundle", "extras"), EXTRAS)
def test_extra_trust(environ: dict, ca_bundle: Path | None, extras: tuple) -> None:
    assert extra_trust(environ, ca_bundle) == extras


def test_a_ca_file_is_accepted(tmp_path: Path) -> None:
    pem = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(pem))
    assert ca_bundle_problem(pem) is None


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    assert ca_bundle_problem(tmp_path / "nope.pem") == "no such file"


def test_a_file_without_certificates_is_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert ca_bundle_problem(junk) == "no certificate or crl found"
