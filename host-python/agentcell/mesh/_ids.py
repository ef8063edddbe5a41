"""The 32-byte ids of the mesh and the ML-DSA-65 public key, as upstream's Python
package shows them: hex in and out, equality and hashing by bytes."""

from __future__ import annotations

import binascii
from typing import ClassVar, TypeVar

__all__ = ["AgentId", "MachineId", "PublicKey", "TaskId"]

_T = TypeVar("_T", bound="_Bytes32")


class _Bytes32:
    __slots__ = ("_bytes",)
    _label: ClassVar[str] = "Id"
    _hex_error: ClassVar[str] = "Invalid hex encoding"
    _length: ClassVar[int] = 32

    def __init__(self, raw: bytes) -> None:
        if not isinstance(raw, (bytes, bytearray)):
            raise TypeError(f"{type(self).__name__} takes bytes, got {type(raw).__name__}")
        if len(raw) != self._length:
            raise ValueError(self._length_error(len(raw)))
        self._bytes = bytes(raw)

    @classmethod
    def _length_error(cls, got: int) -> str:
        return f"{cls._label} must be {cls._length} bytes, got {got}"

    @classmethod
    def from_hex(cls: type[_T], hex_str: str) -> _T:
        """Parses hex (either case); `ValueError` on bad hex or the wrong length."""
        if not isinstance(hex_str, str):
            raise TypeError(f"{cls.__name__}.from_hex takes a str, got {type(hex_str).__name__}")
        try:
            raw = binascii.unhexlify(hex_str)
        except (binascii.Error, ValueError) as e:
            raise ValueError(f"{cls._hex_error}: {e}") from None
        return cls(raw)

    def to_hex(self) -> str:
        """Lowercase hex."""
        return self._bytes.hex()

    def as_bytes(self) -> bytes:
        return self._bytes

    def __bytes__(self) -> bytes:
        return self._bytes

    def __str__(self) -> str:
        return self._bytes.hex()

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self._bytes[:8].hex()}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Bytes32) and type(other) is type(self) and other._bytes == self._bytes

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._bytes))


class MachineId(_Bytes32):
    """A machine's id: SHA-256 of `"AUTONOMI_PEER_ID_V2:"` and its public key."""

    __slots__ = ()
    _label = "MachineId"


class AgentId(_Bytes32):
    """An agent's id, derived from its public key like a machine's."""

    __slots__ = ()
    _label = "AgentId"


class TaskId(_Bytes32):
    """A task's id in a task list (64 hex characters)."""

    __slots__ = ()
    _label = "TaskId"
    _hex_error = "Invalid hex string"

    @classmethod
    def _length_error(cls, got: int) -> str:
        return f"TaskId must be 32 bytes (64 hex chars), got {got} bytes"

    def __repr__(self) -> str:
        return f"TaskId('{self.to_hex()}')"

    def __eq__(self, other: object) -> bool:
        # A task id also equals its hex string: upstream's API hands out both.
        if isinstance(other, str):
            return other.lower() == self.to_hex()
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self.to_hex())


class PublicKey(_Bytes32):
    """An ML-DSA-65 public key (1952 bytes)."""

    __slots__ = ()
    _label = "PublicKey"
    _length = 1952

    def __repr__(self) -> str:
        return f"PublicKey('{self._bytes[:8].hex()}...', {len(self._bytes)} bytes)"
