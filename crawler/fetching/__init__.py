"""The worker side of fetching: the pool task (`worker`), one fetch with its
deadline, size cap and retries (`fetch`, `retry`, `reasons`), the connection layer
(`transport`, `address_guard`, `tls`), decoding (`decode`) and the HTTP cache
(`httpcache`). Everything here is importable under every start method."""
