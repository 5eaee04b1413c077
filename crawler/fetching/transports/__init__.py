"""How a request reaches a site: the transport interface (`base`) and its
transports, one a module: `http` (requests/urllib3, the default: the one module of
`crawl` that imports them), `replay` (from WARC archives, `--replay`), `fake`
(canned answers, for tests)."""
