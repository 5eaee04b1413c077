"""Whether a Dask scheduler address may carry a run's secrets. Pure: the address
is read, never resolved or connected to.

Tasks carry the headers, cookies and credentials bound to their sites, and
anyone who reaches a scheduler can run code on its workers. So a run with
secrets goes only:
- over `tls://` (or `wss://`), anywhere: Dask's own TLS configuration (its config
  file, `DASK_DISTRIBUTED__COMM__TLS__*`) says which certificates;
- over any protocol to a loopback address (`127.0.0.0/8`, `::1`, `localhost`) or
  within the process (`inproc://`): the link never leaves this machine.
An address without a protocol is `tcp://`, as Dask takes it.
"""

from __future__ import annotations

import ipaddress

ENCRYPTED = ("tls", "wss", "inproc")


def scheduler_host(address: str) -> tuple[str, str]:
    """The protocol (`tcp` when none is written) and the host of `address`."""
    protocol, sep, rest = address.strip().partition("://")
    if not sep:
        protocol, rest = "tcp", address.strip()
    rest = rest.split("/", 1)[0]
    if rest.startswith("["):
        host = rest[1:].partition("]")[0]
    else:
        host = rest.rpartition(":")[0] if rest.count(":") == 1 else rest
    return protocol.lower(), host.lower()


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def secrets_refusal(address: str) -> str | None:
    """Why a run with secrets may not use the scheduler at `address` (one line,
    saying how), or None when it may."""
    protocol, host = scheduler_host(address)
    if protocol in ENCRYPTED or is_loopback(host):
        return None
    return (
        f"--scheduler {address}: this run sends headers, cookies or passwords, and "
        f"{protocol}:// carries them in clear to a scheduler on which anyone who reaches "
        "it can run code; use tls:// with Dask's TLS configuration (docs/logging-in.md)"
    )
