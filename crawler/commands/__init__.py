"""The commands of `crawl NAME ...` other than the crawl itself; each module has
`main(argv) -> int`, dispatched by `crawler.cli`."""
