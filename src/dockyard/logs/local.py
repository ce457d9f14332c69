"""docker's local format: each record a protobuf LogEntry, framed by its length before and after.

    [4-byte big-endian length][LogEntry][the same 4 bytes]

    message LogEntry {              // moby daemon/logger/logdriver/entry.proto
        string source = 1;          // "stdout" or "stderr"
        int64 time_nano = 2;
        bytes line = 3;             // without its newline
        bool partial = 4;           // the line did not end (the output's unterminated last bytes)
        PartialLogEntryMetadata partial_log_metadata = 5;   // never written here, skipped on read
    }

The length comes after the message as well so that a reader can walk the file
backwards (docker's tail does). The four fields are encoded by hand: a protobuf
runtime would cost every shim megabytes for twenty lines of varints.
"""

from __future__ import annotations

import time

from dockyard import timestamps

DIRECTORY, NAME = "local-logs", "container.log"  # docker's: <data root>/containers/<id>/local-logs/container.log
_FRAME = 4


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # int64 on the wire: two's complement, as protobuf encodes negatives
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7


def entry(source: str, time_nano: int, line: bytes, partial: bool) -> bytes:
    """One framed record; proto3 leaves out the fields that hold their default value."""
    message = b"\x0a" + _varint(len(source)) + source.encode()
    if time_nano:
        message += b"\x10" + _varint(time_nano)
    if line:
        message += b"\x1a" + _varint(len(line)) + line
    if partial:
        message += b"\x20\x01"
    size = len(message).to_bytes(_FRAME, "big")
    return size + message + size


def encode(stream: str, lines: list[bytes]) -> list[bytes]:
    stamp = time.time_ns()
    return [entry(stream, stamp, line.removesuffix(b"\n"), not line.endswith(b"\n")) for line in lines]


def parse_entry(message: bytes) -> dict:
    """A LogEntry as the json-file reader gives its records: {"log", "stream", "time"}."""
    fields: dict[int, int | bytes] = {}
    at = 0
    while at < len(message):
        key, at = _read_varint(message, at)
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields[number], at = _read_varint(message, at)
        elif wire == 2:
            size, at = _read_varint(message, at)
            fields[number], at = message[at : at + size], at + size
        elif wire in (1, 5):  # fixed 64 and 32 bits: no such field in LogEntry, skipped as protobuf does
            at += 8 if wire == 1 else 4
        else:
            raise ValueError(f"local log: unknown wire type {wire}")
    stamp = fields.get(2, 0)
    if isinstance(stamp, int) and stamp >= 1 << 63:
        stamp -= 1 << 64
    line = bytes(fields.get(3, b""))
    return {
        "log": (line if fields.get(4) else line + b"\n").decode(errors="replace"),
        "stream": bytes(fields.get(1, b"")).decode(),
        "time": timestamps.from_ns(int(stamp)),
    }


def decode(data: bytes) -> tuple[list[dict], bytes]:
    records = []
    at = 0
    while at + _FRAME <= len(data):
        size = int.from_bytes(data[at : at + _FRAME], "big")
        end = at + _FRAME + size + _FRAME
        if end > len(data):
            break
        records.append(parse_entry(data[at + _FRAME : at + _FRAME + size]))
        at = end
    return records, data[at:]
