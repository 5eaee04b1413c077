"""The worker's transport: a requests adapter that holds two kinds of connections.

- Plain connections, exactly as requests makes them, for every request unless a
  fetch asks for the guard.
- Guarded connections (`crawler.fetching.address_guard`), for a request sent inside
  `with transport.guarding():`. They sit in a pool manager of their own, so a
  request that must be guarded never reuses a connection that was made without
  the check (to a listed URL's private host, say), and a guarded connection is
  only ever made to an address that was checked.

Through a proxy the proxy makes the connection, and the guard cannot apply:
requests then goes to the proxy as usual.

With a `cache` (`crawler.fetching.httpcache.HttpCache`), every request goes through
it: it sees each request as it is sent (each redirect hop, the headers and cookies
it carries), and answers from its file or through this transport.

The request target is the URL as it is spelled (`crawler.fetching.exact_target`),
not requests' and urllib3's re-spelling of it.

Trust for HTTPS is `crawler.fetching.tls.Trust`: one SSL context per session, holding
requests' bundle plus the extra CA files, given to every HTTPS pool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import partial
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter
from requests.exceptions import InvalidURL
from requests.utils import select_proxy
from urllib3 import PoolManager
from urllib3.connectionpool import HTTPConnectionPool

from crawler.fetching.address_guard import AddressGuard, guarded_pool_classes
from crawler.fetching.exact_target import (
    current,
    exact_pool_classes,
    is_exact,
    sending,
    target_of,
)
from crawler.fetching.tls import Trust

if TYPE_CHECKING:
    from crawler.fetching.httpcache import HttpCache


class Transport(HTTPAdapter):
    """An HTTPAdapter with a guarded pool manager beside the plain one, and one
    shared SSL context; urllib3's own retries are off (tenacity retries)."""

    def __init__(
        self,
        trust: Trust | None = None,
        guard: AddressGuard | None = None,
        pool_size: int = 16,
        cache: HttpCache | None = None,
    ) -> None:
        self.trust = trust or Trust()
        self.guard = guard or AddressGuard()
        self.cache = cache
        self._local = threading.local()
        super().__init__(pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.guarded_poolmanager = PoolManager(
            num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )
        self.guarded_poolmanager.pool_classes_by_scheme = guarded_pool_classes(self.guard)
        for manager in (self.poolmanager, self.guarded_poolmanager):
            manager.pool_classes_by_scheme = exact_pool_classes(manager.pool_classes_by_scheme)

    @contextmanager
    def guarding(self, on: bool = True) -> Iterator[None]:
        """Requests this thread sends in the block use guarded connections (when
        `on`). Per thread, so each of a worker's fetching threads decides alone."""
        before = getattr(self._local, "guarded", False)
        self._local.guarded = on
        try:
            yield
        finally:
            self._local.guarded = before

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: dict[str, str] | None = None,
        cert: Any = None,
    ) -> HTTPConnectionPool:
        if not getattr(self._local, "guarded", False) or select_proxy(request.url, proxies):
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        try:
            host_params, pool_kwargs = self.build_connection_pool_key_attributes(
                request, verify, cert
            )
        except ValueError as error:
            raise InvalidURL(error, request=request) from None
        return self.guarded_poolmanager.connection_from_host(**host_params, pool_kwargs=pool_kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: bool | str | None, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """requests' pool key, with the session's SSL context for HTTPS in place of
        a CA file that each new connection would load again."""
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        if host_params["scheme"] == "https" and verify is not False:
            pool_kwargs.pop("ca_certs", None)
            pool_kwargs.pop("ca_cert_dir", None)
            pool_kwargs["ssl_context"] = self.trust.context(True if verify is None else verify)
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: bool | str | None, cert: Any) -> None:
        if url.lower().startswith("https") and verify is not False and cert is None:
            conn.cert_reqs = "CERT_REQUIRED"
            conn.ca_certs = conn.ca_cert_dir = None  # the pool's SSL context holds the trust
            return
        super().cert_verify(conn, url, verify, cert)

    def request_url(self, request: requests.PreparedRequest, proxies: Any) -> str:
        url = super().request_url(request, proxies)
        target = current()  # set by `send` for a URL sent exactly
        return target if target is not None and url.startswith("/") else url

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        with sending(target_of(url)) if is_exact(url) else nullcontext():
            if self.cache is None:
                return super().send(request, **kwargs)
            return self.cache.send(request, partial(super().send, **kwargs))

    def close(self) -> None:
        super().close()
        self.guarded_poolmanager.clear()
        if self.cache is not None:
            self.cache.close()
