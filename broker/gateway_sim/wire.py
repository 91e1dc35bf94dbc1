"""The TWS API wire format: length-prefixed frames of NUL-terminated text fields.

A client opens with the bytes ``API\\0`` followed by one frame holding its version range
(``v157..176``, optionally followed by connect options). Every frame after that, in both
directions, is a 4-byte big-endian length and that many bytes of fields, each ending in NUL.
"""

import asyncio
import math
import re
import struct
from decimal import Decimal

API_PREFIX = b"API\0"
HEADER = struct.Struct(">I")
# Larger frames than this only come from a broken or hostile peer.
MAX_FRAME_BYTES = 16 * 1024 * 1024
VERSION_RANGE = re.compile(r"^v(\d+)(?:\.\.(\d+))?(?: .*)?$")


class ProtocolError(Exception):
    """The peer sent something that is not the TWS API."""


def encode_field(value) -> str:
    """One outgoing field as TWS writes it: empty for unset, 1/0 for booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return "Infinite" if value == math.inf else repr(value)
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    return str(value)


def encode_frame(fields) -> bytes:
    payload = "".join(encode_field(field) + "\0" for field in fields).encode()
    return HEADER.pack(len(payload)) + payload


def decode_fields(payload: bytes) -> list[str]:
    fields = payload.decode(errors="backslashreplace").split("\0")
    if fields and fields[-1] == "":
        fields.pop()
    return fields


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """The next frame's payload; raises asyncio.IncompleteReadError when the peer hangs up."""
    header = await reader.readexactly(HEADER.size)
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {length} bytes is too large")
    return await reader.readexactly(length)


async def read_handshake(reader: asyncio.StreamReader) -> tuple[int, int]:
    """Read ``API\\0`` and the client's version range; returns (min_version, max_version)."""
    prefix = await reader.readexactly(len(API_PREFIX))
    if prefix != API_PREFIX:
        raise ProtocolError(f"expected the API prefix, got {prefix!r}")
    text = (await read_frame(reader)).decode(errors="replace")
    match = VERSION_RANGE.match(text)
    if not match:
        raise ProtocolError(f"expected a version range like v157..176, got {text!r}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    return low, high
