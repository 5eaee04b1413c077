"""The exit statuses of `crawl` (docs/urls-and-output.md, "Exit status"); 130 and 143 are 128 plus
the signal's number."""

EXIT_OK = 0  # every URL was fetched and parsed
EXIT_SOME_FAILED = 1  # the run finished; some URLs have their error: line
EXIT_UNUSABLE = 2  # the command line, the URL file or the output path is unusable
EXIT_LOCKED = 75  # another run holds the output's lock (EX_TEMPFAIL): nothing fetched
