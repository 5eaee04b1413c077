"""The frontier: which URL the run fetches next, and which found links it takes.

Pure and driven by a clock passed in, like the per-host bookkeeping it holds: no
I/O but the spill of queued URLs to a temporary file.
"""
