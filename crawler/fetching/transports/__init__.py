"""How a request reaches a site: the transport interface (`base`) and its
transports, one a module: `http` (requests/urllib3, the default), `fake` (canned
answers, for tests)."""
