"""Who the crawl says it is: the user's headers, per-site tables, cookie file and
`user:password@`, read and checked when the run starts; then, during the run, what
each fetch may carry and the run's cookie jar. Main process only.

Read at the start (`build_identity`), before anything is fetched; any problem is
one line (`IdentityError`, exit 2) that names the header, key or variable, never
a value:
- `--header 'Name: value'` (repeatable; `header = [...]` in --config): sent to
  the origins of the listed URLs, and only there (`crawler.fetching.credentials`).
  The name must be an HTTP token; the value may not hold a line break or another
  control character (a tab is fine), and must be Latin-1 text.
- `[sites."ORIGIN"]` tables of --config (an origin, or `*.example.com`: its https
  subdomains), each with `headers` and `cookies` tables of strings, for those
  sites only. An exact origin wins over a wildcard, both over `--header`.
- `${NAME}` in a header or cookie value is the environment variable NAME, read
  now (`$${` stays a literal `${`); one that is not set is an error.
- `--cookies FILE`: a Netscape cookies.txt (`crawler.fetching.cookies`); a line
  that is not a cookie is reported with its number and skipped; expired cookies
  are dropped; a file that cannot be read is an error.

During the run (`Identity`): each listed URL's `user:password@` is taken out of it
(`listed`) and bound to its origin as an `Authorization: Basic` header, so no
queue, spill, cache or record ever holds it; `for_fetch` gives a task what it may
carry; `absorb` keeps the cookies sites set (RFC 6265), whichever worker got them,
so the next fetch to that site sends them back. The cookies a task gets are those
of its host's registrable domain: enough for a redirect within the site, and the
jar decides per hop which of them go.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.fetching.cookies import absorb, load_cookie_file, new_jar
from crawler.fetching.credentials import Credentials, SiteRule, site_pattern, split_userinfo
from crawler.frontier.scope import registrable_domain
from crawler.model import BadLine, Job, Result
from crawler.urls import host_key

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VARIABLE = re.compile(r"\$(\$?)\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
SITE_KEYS = ("headers", "cookies")


class IdentityError(Exception):
    """A header, a `[sites]` table, a variable or the cookie file cannot be used;
    the message is one line and holds no value."""


def expand(text: str, environ: Mapping[str, str], where: str) -> str:
    """`text` with each `${NAME}` replaced by the variable's value (`$${` is a
    literal `${`)."""

    def value(match: re.Match[str]) -> str:
        escaped, name = match.groups()
        if escaped:
            return "${" + name + "}"
        if not _NAME.fullmatch(name):
            raise IdentityError(f"{where}: ${{{name}}} is not a variable name")
        if name not in environ:
            raise IdentityError(f"{where}: environment variable {name} is not set")
        return environ[name]

    return _VARIABLE.sub(value, text)


def check_value(value: str, where: str) -> str:
    """`value` with its outer blanks removed; a line break or control character in
    it is an error (it would split the request, or requests would refuse it)."""
    value = value.strip(" \t")
    if any((ord(char) < 32 and char != "\t") or ord(char) == 127 for char in value):
        raise IdentityError(f"{where}: the value holds a line break or control character")
    try:
        value.encode("latin-1")  # what http.client sends a header value as
    except UnicodeEncodeError:
        raise IdentityError(f"{where}: the value is not Latin-1 text (percent-encode it)") from None
    return value


def parse_header(text: str, number: int, environ: Mapping[str, str]) -> tuple[str, str]:
    """One `--header 'Name: value'` (the `number`th), its value expanded."""
    name, colon, value = text.partition(":")
    name = name.strip()
    if not colon:
        raise IdentityError(f"--header {number}: expected 'Name: value' (no colon)")
    if not _TOKEN.fullmatch(name):
        raise IdentityError(f"--header {number}: the name is not an HTTP token")
    where = f"--header {name}"
    return name, check_value(expand(value, environ, where), where)


def parse_sites(table: Any, environ: Mapping[str, str]) -> tuple[SiteRule, ...]:
    """The `[sites]` table of --config, as rules, wildcards before origins (so an
    origin's own value wins)."""
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise IdentityError('[sites]: expected tables [sites."ORIGIN"]')
    rules: list[SiteRule] = []
    for key, site in table.items():
        where = f'[sites."{key}"]'
        try:
            pattern = site_pattern(key)
        except ValueError as error:
            raise IdentityError(f"{where}: {error}") from None
        if not isinstance(site, dict):
            raise IdentityError(f"{where}: expected a table with headers and cookies")
        for unknown in set(site) - set(SITE_KEYS):
            raise IdentityError(f"{where}: unknown key {unknown!r} (headers, cookies)")
        headers = _strings(site.get("headers", {}), f"{where} headers", environ)
        cookies = _strings(site.get("cookies", {}), f"{where} cookies", environ)
        for name, value in cookies:
            if ";" in value or "," in value or " " in value or '"' in value:
                raise IdentityError(f'{where} cookies: {name}: the value holds ; , a space or "')
        rules.append(SiteRule(pattern, headers, cookies))
    rules.sort(key=lambda rule: not rule.pattern.startswith("*."))  # stable: wildcards first
    return tuple(rules)


def _strings(table: Any, where: str, environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    if not isinstance(table, dict):
        raise IdentityError(f"{where}: expected a table of names and strings")
    pairs = []
    for name, value in table.items():
        if not _TOKEN.fullmatch(name):
            raise IdentityError(f"{where}: {name!r} is not an HTTP token")
        if not isinstance(value, str):
            raise IdentityError(f"{where}: {name}: expected a string")
        named = f"{where} {name}"
        pairs.append((name, check_value(expand(value, environ, named), named)))
    return tuple(pairs)


def build_identity(
    headers: Iterable[str],
    sites: Any,
    cookie_file: Path | None,
    environ: Mapping[str, str],
    say: Any = None,
) -> Identity:
    """The run's identity from `--header`, the `[sites]` table and `--cookies`,
    checked; raises IdentityError. `say` gets one line per skipped cookie line."""
    pairs = tuple(parse_header(text, n, environ) for n, text in enumerate(headers or (), 1))
    rules = parse_sites(sites, environ)
    cookies = []
    if cookie_file is not None:
        try:
            cookies, problems = load_cookie_file(cookie_file, time.time())
        except OSError as error:
            raise IdentityError(f"cannot read --cookies {cookie_file}: {error.strerror}") from None
        except UnicodeDecodeError:
            raise IdentityError(f"--cookies {cookie_file}: not UTF-8 text") from None
        for problem in problems:
            if say is not None:
                say(f"crawl: --cookies {cookie_file} {problem}")
    return Identity(pairs, rules, cookies)


class Identity:
    """The run's secrets and its cookie jar (see the module's docstring). `listed`
    and `for_fetch` are called from the dispatching thread, `absorb` from the
    pool's result thread."""

    def __init__(
        self,
        header: tuple[tuple[str, str], ...] = (),
        sites: tuple[SiteRule, ...] = (),
        cookies: Iterable[Any] = (),
        refuse_userinfo: str | None = None,
    ) -> None:
        """`refuse_userinfo`: why a listed URL with `user:password@` is not fetched
        (None: it is, the credentials bound to its origin)."""
        self.header = header
        self.sites = sites
        self.jar = new_jar(cookies)
        self.refuse_userinfo = refuse_userinfo
        self._listed: set[str] = set()  # origins of listed URLs, for --header
        self._userinfo: dict[str, SiteRule] = {}
        self._lock = threading.Lock()
        self._version = 0  # bumped by every absorb, to renew the snapshots
        self._snapshots: dict[str, tuple[int, tuple]] = {}

    @property
    def secrets(self) -> bool:
        """Whether the user gave anything to send (headers, sites, cookies)."""
        return bool(self.header or self.sites or len(self.jar))

    def listed(self, jobs: Iterable[Job | BadLine]) -> Iterator[Job | BadLine]:
        """The URL file's jobs, each URL without its `user:password@`, which is bound
        to the URL's origin (the first one given for an origin is kept)."""
        for job in jobs:
            if isinstance(job, Job):
                clean, rule = split_userinfo(job.url)
                if rule is not None and self.refuse_userinfo:
                    yield BadLine(job.line, clean, self.refuse_userinfo)
                    continue
                origin = host_key(clean)
                if self.header:
                    self._listed.add(origin)
                if rule is not None:
                    self._userinfo.setdefault(origin, rule)
                if clean != job.url:
                    job = job._replace(url=clean)
            yield job

    def for_fetch(self, url: str) -> Credentials | None:
        """What a fetch of `url` may carry, for all its hops; None when nothing."""
        if not (self.header or self.sites or self._userinfo or len(self.jar)):
            return None  # nothing to carry, whatever the origin (most runs)
        origin = host_key(url)
        rules: list[SiteRule] = []
        if self.header and origin in self._listed:
            rules.append(SiteRule(origin, self.header))
        rules.extend(self.sites)
        userinfo = self._userinfo.get(origin)
        if userinfo is not None:
            rules.append(userinfo)
        cookies = self._cookies_for(origin)
        if not rules and not cookies:
            return None
        return Credentials(tuple(rules), cookies)

    def absorb(self, result: Result) -> None:
        """Keep the cookies the sites set during `result`'s fetch. Never raises."""
        received = getattr(result, "cookies", ())
        if not received:
            return
        with self._lock:
            for url, value in received:
                try:
                    absorb(self.jar, url, [value])
                except Exception:  # noqa: BLE001 - a cookie the jar cannot read is not kept
                    continue
            self._version += 1

    def _cookies_for(self, origin: str) -> tuple:
        if not len(self.jar):
            return ()
        site = registrable_domain(urlsplit(origin).hostname or "")
        if "." not in site:  # `localhost`: http.cookiejar knows it as localhost.local
            site += ".local"
        with self._lock:
            known = self._snapshots.get(site)
            if known is not None and known[0] == self._version:
                return known[1]
            cookies = tuple(
                cookie
                for cookie in self.jar
                if (domain := cookie.domain.lstrip(".")) == site or domain.endswith("." + site)
            )
            self._snapshots[site] = (self._version, cookies)
            return cookies
