"""Which certificate authorities a worker trusts. There is no switch that turns
certificate checks off.

Trusted, all at once (each adds to the others):

1. the bundle requests would use: `REQUESTS_CA_BUNDLE` or `CURL_CA_BUNDLE` when
   set (a file or a folder), else certifi's (requests' default);
2. `SSL_CERT_FILE` and `SSL_CERT_DIR` when set (OpenSSL's own variables, which
   requests alone ignores; `SSL_CERT_DIR` may list several folders);
3. `--ca-bundle PATH` (`FetchSettings.ca_bundle`): an internal site's CA file.

Each worker builds one `ssl.SSLContext` from these when it first needs one and
shares it among its HTTPS connections (requests alone would load certifi's
bundle again for every new connection).
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

import certifi


class CaBundleError(Exception):
    """A CA file or folder that cannot be loaded; `reason` says which and why."""

    def __init__(self, place: str, detail: str) -> None:
        self.reason = f"cannot load CA bundle {place} ({detail})"
        super().__init__(self.reason)
        self.detail = detail


def extra_trust(environ: Mapping[str, str], ca_bundle: Path | None) -> tuple[str, ...]:
    """The files and folders trusted on top of requests' bundle (points 2 and 3),
    in the order they are loaded."""
    extras = [environ["SSL_CERT_FILE"]] if environ.get("SSL_CERT_FILE") else []
    extras += [folder for folder in environ.get("SSL_CERT_DIR", "").split(os.pathsep) if folder]
    if ca_bundle is not None:
        extras.append(str(ca_bundle))
    return tuple(extras)


def load(context: ssl.SSLContext, place: str) -> None:
    """Trust the certificates in the file or folder `place`; CaBundleError if
    there are none to be read there."""
    try:
        if os.path.isdir(place):
            context.load_verify_locations(capath=place)
        else:
            context.load_verify_locations(cafile=place)
    except (OSError, ssl.SSLError, ValueError) as error:
        code = getattr(error, "reason", None)  # ssl.SSLError's, NO_CERTIFICATE_OR_CRL_FOUND
        words = code.lower().replace("_", " ") if isinstance(code, str) else None
        detail = words or getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise CaBundleError(place, detail) from None


def ca_bundle_problem(path: Path) -> str | None:
    """Why `path` cannot serve as `--ca-bundle`, or None if it can (for the
    command line, so that a bad file stops the run before anything is fetched)."""
    if not path.is_file():
        return "no such file"
    try:
        load(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), str(path))
    except CaBundleError as error:
        return error.detail
    return None


class Trust:
    """The SSL contexts of one worker's transport, one per `verify` value (True:
    certifi's bundle; or the environment's bundle), each trusting that bundle plus
    the extras. `new_context` makes a context with the transport's defaults, which
    this then loads with the trusted certificates."""

    def __init__(
        self,
        extras: tuple[str, ...] = (),
        new_context: Callable[[], ssl.SSLContext] = ssl.create_default_context,
    ) -> None:
        self.extras = extras
        self.new_context = new_context  # the transport's own defaults (protocols, ciphers)
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def context(self, verify: bool | str) -> ssl.SSLContext:
        bundle = certifi.where() if verify is True else str(verify)
        with self._lock:
            context = self._contexts.get(bundle)
            if context is None:
                context = self.new_context()
                context.verify_mode = ssl.CERT_REQUIRED
                for place in (bundle, *self.extras):
                    load(context, place)
                self._contexts[bundle] = context
            return context
