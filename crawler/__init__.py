"""crawl: a concurrent web-crawler pipeline for scheduled runs."""

__version__ = "0.2.0"
PROJECT_URL = "https://github.com/crawl-pipeline/crawl"
