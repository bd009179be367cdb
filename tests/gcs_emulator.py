"""Runs gcp-storage-emulator (same arguments as its `gcp-storage-emulator` command) with its multipart upload parser
fixed, so that an object reads back with the bytes it was written with.

gcsfs uploads every object under 50 MiB as one `multipart/related` request whose lines end in a bare LF
(`gcsfs.core.simple_upload`: `--==0==\\n<headers>\\n\\n<data>\\n--==0==--`). The emulator parses that body with
`email.parser.BytesParser` (`gcp_storage_emulator.server._read_data`), which takes the line ending before a
boundary as CRLF when the data's last byte is CR (0x0D) and drops that byte: any object ending in 0x0D is stored
one byte short. A zarr shard ends in its index's CRC-32C, so about one shard in 256 is cut, and zarr then
refuses its index ("Stored and computed checksum do not match"). Here a `multipart/related` body is split on
its delimiter exactly, with the line ending that its opening boundary line uses (RFC 2046: the delimiter is
that line ending, "--" and the boundary); every other body is parsed as the emulator parses it.
"""

from __future__ import annotations

import base64
import json
import sys
from email.parser import BytesHeaderParser

from gcp_storage_emulator import server
from gcp_storage_emulator.__main__ import main

_original_read_data = server._read_data


def parse_multipart_related(raw: bytes, content_type: str) -> dict[str, object] | None:
    """A `multipart/related` upload body as the emulator's handlers take it (`meta`, `content`,
    `content-type`), or None when the body is not one this parser can read (the emulator's own parser then
    reads it)."""
    header = BytesHeaderParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode())
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str):
        return None
    start = b"--" + boundary.encode()
    for eol in (b"\r\n", b"\n"):
        if raw.startswith(start + eol):
            break
    else:
        return None
    pieces = raw[len(start + eol) :].split(eol + start)
    if len(pieces) != 3 or not pieces[2].startswith(b"--"):
        return None  # exactly two parts, then the closing delimiter
    parts = [pieces[0], pieces[1].removeprefix(eol)]
    parsed = []
    for part in parts:
        head, sep, body = part.partition(eol + eol)
        if not sep:
            return None
        headers = BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
        if (headers.get("Content-Transfer-Encoding") or "").lower() == "base64":
            body = base64.b64decode(body)
        parsed.append((headers, body))
    (_, meta), (content_headers, content) = parsed
    return {"meta": json.loads(meta), "content": content, "content-type": content_headers.get_content_type()}


def _read_data(request_handler, query):  # noqa: ANN001, ANN202 - the emulator's own signature
    content_type = request_handler.headers.get("Content-Type") or ""
    if not content_type.startswith("multipart/related"):
        return _original_read_data(request_handler, query)
    raw = server._decode_raw_data(server._read_raw_data(request_handler), request_handler)
    if not raw:
        return None
    parsed = parse_multipart_related(raw, content_type)
    if parsed is not None:
        return parsed
    # not a body this parser reads: hand the bytes already read to the emulator's parser
    msg = server.BytesParser().parsebytes(f"Content-Type:{content_type}\r\n".encode() + raw)
    payload = msg.get_payload()
    return {
        "meta": json.loads(payload[0].get_payload()),
        "content": payload[1].get_payload(decode=True),
        "content-type": payload[1].get_content_type(),
    }


server._read_data = _read_data

if __name__ == "__main__":
    sys.argv[0] = "gcp-storage-emulator"
    sys.exit(main())
