"""What a request carries, and where: the one place that decides which of the
user's headers, `[sites]` cookies and `user:password@` a request to a URL gets.
Pure: no I/O, no clock; the cookie jar's RFC 6265 part is `crawler.fetching.cookies`.

Every secret the user gives is bound to a site pattern (`SiteRule.pattern`):
- an origin, `scheme://host[:port]` as `crawler.urls.host_key` spells it (80 and
  443 being the schemes' defaults, the host lower-cased): it matches a request
  whose origin is exactly that. Another scheme, host or port is another origin,
  so `http://127.0.0.1:8000` matches neither `:8001`, nor `127.0.0.2`, nor https;
- `*.example.com` (or `https://*.example.com`, with `:PORT` if not 443): the
  https subdomains of example.com, at any depth, on that port; never example.com
  itself, never over http.

Order of decisions for one request (`request_headers`), each hop of a redirect
asked anew with the hop's own URL:
1. the request's origin;
2. the rules of the fetch (`Credentials.rules`) that match it, in order, a later
   rule's header or cookie of the same name (any case) replacing an earlier one.
   The run orders them from least to most specific: `--header` (bound to the
   origins of the listed URLs), then `[sites]` wildcards, then `[sites]` origins,
   then the listed URL's own `user:password@` (an `Authorization: Basic` header);
3. the Cookie header: the matching rules' cookies, then those the fetch's cookie
   jar holds for the URL (RFC 6265: domain, path, `secure`), one header.
A rule that does not match adds nothing: nothing bound to one origin ever goes
to another, on a redirect hop, a followed link, a sitemap or a robots.txt.
"""

from __future__ import annotations

import base64
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from crawler.urls import DEFAULT_PORTS, host_key, redact_url

Pairs = tuple[tuple[str, str], ...]
WILDCARD = "*."


class SiteRule(NamedTuple):
    """Headers and cookies bound to `pattern` (an origin or `*.domain[:port]`)."""

    pattern: str
    headers: Pairs = ()
    cookies: Pairs = ()


class Credentials(NamedTuple):
    """What one fetch may send (it crosses to the worker with the task): the rules,
    least specific first, and the cookies of the run's jar that its hops may need
    (`http.cookiejar.Cookie` objects, matched per hop by RFC 6265)."""

    rules: tuple[SiteRule, ...] = ()
    cookies: tuple = ()


def site_pattern(text: str) -> str:
    """The normalized pattern of a `[sites."..."]` key; ValueError (one line) if it
    is neither an origin nor `*.domain`."""
    text = text.strip()
    if text.lower().startswith("https://" + WILDCARD):
        text = text[len("https://") :]
    if text.startswith(WILDCARD):
        host, _, port = text[len(WILDCARD) :].partition(":")
        if not host or "/" in host or "*" in host or (port and not port.isdigit()):
            raise ValueError(f"{text!r} is not *.DOMAIN[:PORT]")
        port_text = "" if not port or int(port) == DEFAULT_PORTS["https"] else f":{int(port)}"
        return f"{WILDCARD}{host.lower().rstrip('.')}{port_text}"
    if "*" in text:
        raise ValueError(f"{text!r}: a wildcard matches https subdomains only (*.DOMAIN)")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise ValueError(f"{text!r} is not an origin (scheme://host[:port])") from None
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{text!r} is not an origin (http(s)://host[:port])")
    if parts.username is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{text!r} is not an origin: no user, path or query")
    return host_key(text)


def matches(pattern: str, origin: str) -> bool:
    """Whether a rule bound to `pattern` applies to a request to `origin` (a
    `host_key`)."""
    if not pattern.startswith(WILDCARD):
        return pattern == origin
    scheme, _, hostport = origin.partition("://")
    if scheme != "https":
        return False
    domain, _, port = pattern[len(WILDCARD) :].partition(":")
    if hostport.startswith("["):  # an IPv6 address has no subdomains
        return False
    host, _, origin_port = hostport.partition(":")
    return origin_port == port and host.endswith("." + domain)


def request_headers(
    url: str, credentials: Credentials | None, jar_cookies: str | None = None
) -> dict[str, str]:
    """The headers a request to `url` carries beyond the session's own (see the
    module's order of decisions). `jar_cookies`: the Cookie header value the
    fetch's jar gives for `url`, if any."""
    if credentials is None and not jar_cookies:
        return {}  # nothing bound to any origin, no cookie: most requests
    origin = host_key(url)
    headers: dict[str, tuple[str, str]] = {}  # lower-case name -> (name, value)
    cookies: dict[str, str] = {}
    for rule in credentials.rules if credentials is not None else ():
        if matches(rule.pattern, origin):
            headers.update((name.lower(), (name, value)) for name, value in rule.headers)
            cookies.update(rule.cookies)
    parts = [f"{name}={value}" for name, value in cookies.items()]
    given = headers.pop("cookie", None)
    if given is not None:
        parts.insert(0, given[1])
    if jar_cookies:
        parts.append(jar_cookies)
    result = dict(headers.values())
    if parts:
        result["Cookie"] = "; ".join(parts)
    return result


def basic_authorization(user: str, password: str) -> str:
    """`Basic base64(user:password)`, as requests sends a URL's credentials."""
    token = base64.b64encode(f"{user}:{password}".encode("latin-1", "replace")).decode("ascii")
    return f"Basic {token}"


def split_userinfo(url: str) -> tuple[str, SiteRule | None]:
    """`url` without its `user:password@` (exactly `crawler.urls.redact_url`), and
    the rule that binds those credentials to the URL's origin (None: none given).
    Percent-escapes in them are decoded, as requests does."""
    clean = redact_url(url)
    if clean == url:
        return url, None
    parts = urlsplit(url)
    user, password = unquote(parts.username or ""), unquote(parts.password or "")
    if not (user or password):
        return clean, None
    rule = SiteRule(host_key(clean), (("Authorization", basic_authorization(user, password)),))
    return clean, rule


def with_rule(credentials: Credentials | None, rule: SiteRule | None) -> Credentials | None:
    """`credentials` with `rule` appended (the most specific), if there is one."""
    if rule is None:
        return credentials
    base = credentials or Credentials()
    return base._replace(rules=(*base.rules, rule))
