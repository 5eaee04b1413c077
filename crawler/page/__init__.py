"""Reading a page: a leaf layer, pure functions and no I/O.

It imports only the standard library, ada-url, lxml/parsel/jmespath (lazily, where
a page needs them), `crawler.model` and `crawler.urls`; the fetch worker, the
frontier and the parsers all read pages through it:

- `resolve`: the one URL resolver (WHATWG, ada-url) and the `<base>` rule;
- `query_encoding`: a link's query in the page's encoding;
- `charsets`: the WHATWG Encoding Standard's labels;
- `media_type`: the one reader of a Content-Type;
- `decode`: a body's text, as a browser decodes it;
- `selectors`: the one compiler of CSS/XPath (parsel's dialect) and JMESPath;
- `links`: the links of an HTML page;
- `jsondoc`, `json_links`: a JSON page's value, and the links JMESPath rules select.
"""
