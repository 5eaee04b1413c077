"""The worker side of fetching: the pool task (`worker`); one fetch's policy, its
hops, deadline, size cap and retries (`fetch`, `retry`, `reasons`); the layers around
a transport, none knowing which one runs: what a request carries (`credentials`,
`cookies`), the address guard's decision (`address_guard`), exact targets
(`exact_target`), bodies read within bounds and decoded (`body`), the HTTP cache
(`httpcache`, `cache_policy`, `cache_store`, `cache_upkeep`) and the archive writer
(`archiving`); and the transports themselves (`transports`: the interface, HTTP,
replay, a fake). Everything here is importable under every start method."""
