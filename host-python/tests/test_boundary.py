"""Bulk data crosses correctly in both forms (hex blob and component-model list)."""

from __future__ import annotations

import os
import struct

import pytest

import agentcell
from agentcell._wasm import Err, Ok


def test_blob_round_trip_1mib(rt: agentcell.Runtime) -> None:
    data = os.urandom(1 << 20)
    assert rt.call("bench", "blob-in", data.hex()) == Ok((len(data), sum(data) & 0xFFFFFFFF))
    out = bytes.fromhex(rt.call("bench", "blob-out", 1 << 20, 3))
    assert out[:3] == bytes([3, 34, 65]) and len(out) == 1 << 20


def test_list_forms_agree_with_blob_forms(rt: agentcell.Runtime) -> None:
    data = bytes(range(256)) * 12
    assert rt.call("bench", "bytes-in", data) == rt.call("bench", "blob-in", data.hex()).value
    assert rt.call("bench", "bytes-out", 300, 7) == bytes.fromhex(rt.call("bench", "blob-out", 300, 7))


def test_embedding_sum(rt: agentcell.Runtime) -> None:
    values = [0.5] * 768
    blob = struct.pack("<768f", *values).hex()
    assert rt.call("bench", "sum-f32-blob", blob) == Ok(384.0)
    assert rt.call("bench", "sum-f32-list", values) == pytest.approx(384.0)


def test_bad_blob_is_a_typed_error_naming_the_argument(rt: agentcell.Runtime) -> None:
    out = rt.call("bench", "blob-in", "xyz")
    assert isinstance(out, Err) and out.value["field"] == "data"
    with pytest.raises(agentcell.InvalidArgumentError, match="data") as info:
        rt.call_ok("bench", "blob-in", "zz")
    assert isinstance(info.value, ValueError)


def test_unicode_strings_cross_intact(rt: agentcell.Runtime) -> None:
    assert rt.call("bench", "text-len", "h\u00e9llo \U0001f600") == len("h\u00e9llo \U0001f600".encode())
