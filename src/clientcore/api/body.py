"""Reading a request body as the SDKs send it: maybe gzipped, bounded in size, keyed."""

from __future__ import annotations

import base64
import binascii
import zlib

from fastapi import Request

from clientcore.collect import PayloadError, PayloadTooLargeError

# RudderStack's SDKs batch up to 4 MiB; Segment's up to 500 KB. We accept the larger.
MAX_REQUEST_BYTES = 4 * 1024 * 1024


async def read_body(request: Request, limit: int = MAX_REQUEST_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError(f"request body is larger than {limit // 1024} KiB")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLargeError(f"request body is larger than {limit // 1024} KiB")
    encoding = request.headers.get("content-encoding", "").lower().strip()
    if encoding in ("", "identity"):
        return bytes(body)
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise PayloadError(f"unsupported Content-Encoding {encoding!r}; use gzip")
    wbits = zlib.MAX_WBITS | 16 if "gzip" in encoding else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        data = inflater.decompress(bytes(body), limit + 1)
        # Checked before eof: a body of exactly limit + 1 bytes inflates to its end.
        if len(data) > limit:
            raise PayloadTooLargeError(f"decompressed body is larger than {limit // 1024} KiB")
        if not inflater.eof:
            raise PayloadError("gzip body is truncated")
    except zlib.error as error:
        raise PayloadError(f"body is not valid {encoding}: {error}") from error
    return data


def basic_user(request: Request) -> str | None:
    """The write key sent as the HTTP Basic user name (Segment, RudderStack)."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise PayloadError("Authorization header is not valid Basic credentials") from None
    return decoded.split(":", 1)[0] or None


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value else None
