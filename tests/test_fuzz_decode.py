"""Fuzzing the decoder: any bytes with any Content-Type decode to text, without an
exception and without a hang; what it documents (BOM first, then the header) holds."""

from __future__ import annotations

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.page.charsets import TEXT_ENCODINGS, codec_for_label
from crawler.page.decode import choose_encoding, decode_body
from crawler.page.media_type import is_text

FUZZ = settings(max_examples=300, deadline=5000)

charsets = st.one_of(
    st.sampled_from(
        [
            *("utf-8", "gbk", "GB2312", "latin1", "utf-16", "x-unknown", "", "utf-8\x00"),
            *("🙂", " ", "base64", "rot13", "zlib", "hex", "undefined", "idna", "utf-7"),
            "iso-2022-jp",
        ]
    ),
    st.text(max_size=20),
)
content_types = st.one_of(
    st.just(""),
    st.builds(lambda c: f"text/html; charset={c}", charsets),
    st.builds(lambda c: f'text/html; charset="{c}"', charsets),
    st.text(max_size=60),
)
metas = st.builds(
    lambda c, junk: f'<meta charset="{c}">{junk}'.encode("utf-8", "surrogatepass"),
    charsets,
    st.text(max_size=50),
)
bodies = st.one_of(
    st.binary(max_size=3000),
    st.builds(lambda m, b: m + b, metas, st.binary(max_size=500)),
    st.builds(lambda b: codecs.BOM_UTF8 + b, st.binary(max_size=200)),
    st.builds(lambda b: codecs.BOM_UTF16_LE + b, st.binary(max_size=200)),
    st.builds(lambda t: t.encode("gb18030"), st.text(max_size=200)),
)


@FUZZ
@given(bodies, content_types)
def test_decoding_never_fails(body: bytes, content_type: str) -> None:
    text = decode_body(body, content_type)
    assert isinstance(text, str)
    encoding, skip = choose_encoding(body, content_type)
    assert encoding in TEXT_ENCODINGS
    assert 0 <= skip <= 3


@FUZZ
@given(content_types, st.text(max_size=30))
def test_is_text_reads_the_media_type_only(content_type: str, parameters: str) -> None:
    """ASCII case and parameters do not change whether a body is text."""
    media = content_type.split(";", 1)[0]
    shouted = "".join(char.upper() if char.isascii() else char for char in media)
    assert is_text(content_type) == is_text(media) == is_text(shouted + ";" + parameters)


@FUZZ
@given(st.text(max_size=40))
def test_any_label_is_a_text_encoding_or_none(label: str) -> None:
    name = codec_for_label(label)
    assert name is None or name in TEXT_ENCODINGS


@FUZZ
@given(st.sampled_from(sorted(TEXT_ENCODINGS)), st.binary(max_size=300))
def test_every_accepted_encoding_decodes_any_bytes(encoding: str, body: bytes) -> None:
    assert isinstance(body.decode(encoding, errors="replace"), str)


@FUZZ
@given(st.text(max_size=300), content_types)
def test_a_bom_wins_over_any_header(text: str, content_type: str) -> None:
    body = codecs.BOM_UTF8 + text.encode("utf-8", "surrogatepass")
    if max(text, default="a") >= "\ud800" and any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        return  # surrogates are not text
    assert decode_body(body, content_type) == text
