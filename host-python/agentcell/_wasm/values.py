"""Moving values across the component boundary without wasmtime-py's per-call overhead.

wasmtime-py's `Func.__call__` asks for the function's type over FFI on every call and
converts every value through generic Python objects. Here:

* lowering (Python -> C `wasmtime_component_val_t`) is compiled once per function
  into closures from the function's type;
* strings are copied once into a `wasm_byte_vec_t` straight from a `bytes` buffer;
* lifting (C -> Python) needs no type at all: the C value carries its own kind and
  names, so one recursive function reads it and the whole tree is freed with one
  `wasmtime_component_val_delete`.

Lifted forms: record -> dict (snake_case keys), tuple -> tuple, option -> value or
None, result -> `Ok`/`Err`, enum -> str, variant -> (case, payload), list<u8> -> bytes,
own<R> -> `Resource` (given back as a borrow<R> or own<R> argument).
An export's result is read by a lifter built from its type once (`lifter`); `lift`,
which reads a value by its own kind, serves where no type is at hand.
"""

from __future__ import annotations

import binascii
import ctypes
from collections.abc import Callable
from ctypes import POINTER, byref, c_char_p, c_size_t, sizeof
from dataclasses import dataclass
from typing import Any

from ._capi import ffi, wt

Val = ffi.wasmtime_component_val_t
Lower = Callable[[Any, Any], None]

_K_BOOL = ffi.WASMTIME_COMPONENT_BOOL.value
_K_S8 = ffi.WASMTIME_COMPONENT_S8.value
_K_U8 = ffi.WASMTIME_COMPONENT_U8.value
_K_S16 = ffi.WASMTIME_COMPONENT_S16.value
_K_U16 = ffi.WASMTIME_COMPONENT_U16.value
_K_S32 = ffi.WASMTIME_COMPONENT_S32.value
_K_U32 = ffi.WASMTIME_COMPONENT_U32.value
_K_S64 = ffi.WASMTIME_COMPONENT_S64.value
_K_U64 = ffi.WASMTIME_COMPONENT_U64.value
_K_F32 = ffi.WASMTIME_COMPONENT_F32.value
_K_F64 = ffi.WASMTIME_COMPONENT_F64.value
_K_CHAR = ffi.WASMTIME_COMPONENT_CHAR.value
_K_STRING = ffi.WASMTIME_COMPONENT_STRING.value
_K_LIST = ffi.WASMTIME_COMPONENT_LIST.value
_K_RECORD = ffi.WASMTIME_COMPONENT_RECORD.value
_K_TUPLE = ffi.WASMTIME_COMPONENT_TUPLE.value
_K_VARIANT = ffi.WASMTIME_COMPONENT_VARIANT.value
_K_ENUM = ffi.WASMTIME_COMPONENT_ENUM.value
_K_OPTION = ffi.WASMTIME_COMPONENT_OPTION.value
_K_RESULT = ffi.WASMTIME_COMPONENT_RESULT.value
_K_RESOURCE = ffi.WASMTIME_COMPONENT_RESOURCE.value

# `wasm_byte_vec_new` declared to take the source as `char*`, so a `bytes` object is
# passed by pointer with no intermediate ctypes array (one copy, done in C).
# `dll[...]` makes a new function object, leaving wasmtime-py's own prototype alone.
_byte_vec_new = ffi.dll["wasm_byte_vec_new"]
_byte_vec_new.restype = None
_byte_vec_new.argtypes = [POINTER(ffi.wasm_byte_vec_t), c_size_t, c_char_p]

_VAL_SIZE = sizeof(Val)
_string_at = ctypes.string_at
val_delete = ffi.wasmtime_component_val_delete


class Resource:
    """An owned handle on a resource of one component instance (a WIT `own<R>`), e.g.
    a memory store. It belongs to the instance that made it: `instance` is that
    instance's token, and an argument of another (after a trap replaced the instance)
    or a dropped one is refused before the call. `Runtime.drop` ends it."""

    __slots__ = ("_ptr", "instance")

    def __init__(self, ptr: Any, instance: object) -> None:
        self._ptr = ptr
        self.instance = instance

    @property
    def dropped(self) -> bool:
        """True once `Runtime.drop` ended it."""
        return self._ptr is None

    def take(self) -> Any:
        """The C handle, which the caller now owns (drops and deletes); this is then dropped."""
        ptr, self._ptr = self._ptr, None
        return ptr

    def __del__(self) -> None:
        # Frees the C box only: the instance keeps the resource until `Runtime.drop` or
        # the instance's end (a finaliser cannot take the runtime's lock safely).
        if self._ptr is not None:
            ffi.wasmtime_component_resource_any_delete(self._ptr)
            self._ptr = None


@dataclass(frozen=True, slots=True)
class Ok:
    """The `ok` case of a lifted WIT `result`."""

    value: Any


@dataclass(frozen=True, slots=True)
class Err:
    """The `err` case of a lifted WIT `result`."""

    value: Any


def _name(vec: Any) -> str:
    return _string_at(vec.data, vec.size).decode()


def _snake(name: str) -> str:
    return name.replace("-", "_")


def _blob(s: Any) -> bytes:
    # Decode the hex straight from wasmtime's buffer: no intermediate bytes or str.
    if not s.size:
        return b""
    view = (ctypes.c_char * s.size).from_address(ctypes.addressof(s.data.contents))
    return binascii.unhexlify(view)


# How `lift` returns strings.
TEXT = 0  # as `str`
HEX = 1  # each string is a hex blob: the `bytes` it encodes
UTF8 = 2  # as their UTF-8 `bytes`, undecoded (values a host stores and returns as is)


def lift(v: Any, strings: int = TEXT) -> Any:
    """Reads a C component value into Python. Does not free it. `strings` says how
    strings come back (`TEXT`, `HEX` or `UTF8`); record fields are always `TEXT`."""
    blobs = strings
    k = v.kind
    if k == _K_STRING:
        s = v.of.string
        if strings == HEX:
            return _blob(s)
        if strings == UTF8:
            return _string_at(s.data, s.size)
        return _string_at(s.data, s.size).decode() if s.size else ""
    if k == _K_BOOL:
        return bool(v.of.boolean)
    if k == _K_U32:
        return v.of.u32
    if k == _K_S64:
        return v.of.s64
    if k == _K_U64:
        return v.of.u64
    if k == _K_S32:
        return v.of.s32
    if k == _K_F32:
        return v.of.f32
    if k == _K_F64:
        return v.of.f64
    if k == _K_U8:
        return v.of.u8
    if k == _K_U16:
        return v.of.u16
    if k == _K_S8:
        return v.of.s8
    if k == _K_S16:
        return v.of.s16
    if k == _K_CHAR:
        return chr(v.of.character)
    if k == _K_RESULT:
        r = v.of.result
        payload = lift(r.val.contents, blobs if r.is_ok else TEXT) if r.val else None
        return Ok(payload) if r.is_ok else Err(payload)
    if k == _K_OPTION:
        p = v.of.option
        return lift(p.contents, blobs) if p else None
    if k == _K_RECORD:
        rec = v.of.record
        out = {}
        for i in range(rec.size):
            entry = rec.data[i]
            out[_snake(_name(entry.name))] = lift(entry.val)
        return out
    if k == _K_TUPLE:
        t = v.of.tuple
        return tuple(lift(t.data[i], blobs) for i in range(t.size))
    if k == _K_LIST:
        lst = v.of.list
        n = lst.size
        if n and lst.data[0].kind == _K_U8:
            return bytes(lst.data[i].of.u8 for i in range(n))
        return [lift(lst.data[i], blobs) for i in range(n)]
    if k == _K_ENUM:
        return _name(v.of.enumeration)
    if k == _K_VARIANT:
        var = v.of.variant
        return (_name(var.discriminant), lift(var.val.contents) if var.val else None)
    raise TypeError(f"cannot lift component value of kind {k}")


Lift = Callable[[Any], Any]


def _lift_string(strings: int) -> Lift:
    if strings == HEX:
        return lambda v: _blob(v.of.string)
    if strings == UTF8:
        return lambda v: _string_at(v.of.string.data, v.of.string.size)
    return lambda v: _string_at(v.of.string.data, v.of.string.size).decode() if v.of.string.size else ""


_PRIM_LIFTS: dict[type, Lift] = {
    wt.Bool: lambda v: bool(v.of.boolean),
    wt.U8: lambda v: v.of.u8,
    wt.U16: lambda v: v.of.u16,
    wt.U32: lambda v: v.of.u32,
    wt.U64: lambda v: v.of.u64,
    wt.S8: lambda v: v.of.s8,
    wt.S16: lambda v: v.of.s16,
    wt.S32: lambda v: v.of.s32,
    wt.S64: lambda v: v.of.s64,
    wt.F32: lambda v: v.of.f32,
    wt.F64: lambda v: v.of.f64,
    wt.Char: lambda v: chr(v.of.character),
}


def lifter(ty: Any, strings: int = TEXT, instance: object = None) -> Lift:
    """Builds, once per type, a function that reads a C value of WIT type `ty` into
    Python: the forms `lift` gives, decided by the type rather than by the value (an
    empty `list<u8>` is `b""`, not `[]`). Does not free the value. `strings` applies as
    in `lift`: to strings on the `ok` side, in options, tuples and lists; record fields,
    errors and variant payloads are always `TEXT`. `instance` is the token a lifted
    `Resource` belongs to."""
    if isinstance(ty, wt.String):
        return _lift_string(strings)
    if isinstance(ty, wt.OwnType):
        return lambda v: Resource(ffi.wasmtime_component_resource_any_clone(v.of.resource), instance)
    prim = _PRIM_LIFTS.get(type(ty))
    if prim is not None:
        return prim
    if isinstance(ty, wt.ResultType):
        ok = lifter(ty.ok, strings, instance) if ty.ok is not None else None
        err = lifter(ty.err) if ty.err is not None else None

        def lift_result(v: Any) -> Any:
            r = v.of.result
            if r.is_ok:
                return Ok(ok(r.val.contents) if ok is not None and r.val else None)
            return Err(err(r.val.contents) if err is not None and r.val else None)

        return lift_result
    if isinstance(ty, wt.OptionType):
        some = lifter(ty.payload, strings, instance)
        return lambda v: some(v.of.option.contents) if v.of.option else None
    if isinstance(ty, wt.RecordType):
        fields = [(_snake(name), lifter(fty)) for name, fty in ty.fields]

        def lift_record(v: Any) -> dict[str, Any]:
            data = v.of.record.data
            return {name: lift(data[i].val) for i, (name, lift) in enumerate(fields)}

        return lift_record
    if isinstance(ty, wt.TupleType):
        items = [lifter(e, strings) for e in ty.elements]

        def lift_tuple(v: Any) -> tuple[Any, ...]:
            data = v.of.tuple.data
            return tuple(lift(data[i]) for i, lift in enumerate(items))

        return lift_tuple
    if isinstance(ty, wt.ListType):
        if isinstance(ty.element, wt.U8):

            def lift_bytes(v: Any) -> bytes:
                lst = v.of.list
                return bytes(lst.data[i].of.u8 for i in range(lst.size))

            return lift_bytes
        item = lifter(ty.element, strings)

        def lift_list(v: Any) -> list[Any]:
            lst = v.of.list
            return [item(lst.data[i]) for i in range(lst.size)]

        return lift_list
    if isinstance(ty, wt.EnumType):
        return lambda v: _name(v.of.enumeration)
    if isinstance(ty, wt.VariantType):
        cases = {name: lifter(cty) if cty is not None else None for name, cty in ty.cases}

        def lift_variant(v: Any) -> tuple[str, Any]:
            var = v.of.variant
            case = _name(var.discriminant)
            payload = cases[case]
            return (case, payload(var.val.contents) if payload is not None and var.val else None)

        return lift_variant
    return lambda v: lift(v, strings)  # flags, resources: not in this package's WIT


def _set_string(v: Any, data: bytes) -> None:
    _byte_vec_new(byref(v.of.string), len(data), data)
    v.kind = _K_STRING


def _lower_string(v: Any, x: Any) -> None:
    if isinstance(x, str):
        x = x.encode()
    elif not isinstance(x, bytes | bytearray | memoryview):
        raise TypeError(f"expected str, got {type(x).__name__}")
    _set_string(v, bytes(x))


def _int_lowerer(kind: int, attr: str, lo: int, hi: int) -> Lower:
    def lower(v: Any, x: Any) -> None:
        if not isinstance(x, int) or isinstance(x, bool):
            raise TypeError(f"expected int, got {type(x).__name__}")
        if not lo <= x <= hi:
            raise OverflowError(f"{x} does not fit in {attr} ({lo}..={hi})")
        setattr(v.of, attr, x)
        v.kind = kind

    return lower


def _float_lowerer(kind: int, attr: str) -> Lower:
    def lower(v: Any, x: Any) -> None:
        setattr(v.of, attr, float(x))
        v.kind = kind

    return lower


def _lower_bool(v: Any, x: Any) -> None:
    v.of.boolean = bool(x)
    v.kind = _K_BOOL


def _zeroed_vals(data: Any, n: int) -> None:
    # Kind 0 is `bool`, which owns nothing: a half-filled aggregate can be freed safely.
    if n:
        ctypes.memset(data, 0, n * _VAL_SIZE)


def _boxed(lower: Lower, x: Any) -> Any:
    raw = Val()
    lower(raw, x)
    return ffi.wasmtime_component_val_new(byref(raw))


def _field(x: Any, name: str) -> Any:
    if isinstance(x, dict):
        return x[name] if name in x else x[name.replace("_", "-")]
    return getattr(x, name)


def _resource_lowerer(instance: object) -> Lower:
    def lower(v: Any, x: Any) -> None:
        if not isinstance(x, Resource):
            raise TypeError(f"expected a Resource, got {type(x).__name__}")
        if x.dropped:
            raise ValueError("the resource was dropped")
        if x.instance is not instance:
            raise ValueError("the resource belongs to an instance that is gone (replaced after a trap)")
        v.of.resource = ffi.wasmtime_component_resource_any_clone(x._ptr)
        v.kind = _K_RESOURCE

    return lower


def lowerer(ty: Any, instance: object = None) -> Lower:
    """Builds a function that writes a Python value of WIT type `ty` into a C value.
    A resource argument (`borrow<R>`, `own<R>`) must be a `Resource` of `instance`."""
    if isinstance(ty, wt.String):
        return _lower_string
    if isinstance(ty, wt.BorrowType | wt.OwnType):
        return _resource_lowerer(instance)
    if isinstance(ty, wt.Bool):
        return _lower_bool
    ints = {
        wt.U8: (_K_U8, "u8", 0, 2**8 - 1),
        wt.U16: (_K_U16, "u16", 0, 2**16 - 1),
        wt.U32: (_K_U32, "u32", 0, 2**32 - 1),
        wt.U64: (_K_U64, "u64", 0, 2**64 - 1),
        wt.S8: (_K_S8, "s8", -(2**7), 2**7 - 1),
        wt.S16: (_K_S16, "s16", -(2**15), 2**15 - 1),
        wt.S32: (_K_S32, "s32", -(2**31), 2**31 - 1),
        wt.S64: (_K_S64, "s64", -(2**63), 2**63 - 1),
    }
    for cls, spec in ints.items():
        if isinstance(ty, cls):
            return _int_lowerer(*spec)
    if isinstance(ty, wt.F32):
        return _float_lowerer(_K_F32, "f32")
    if isinstance(ty, wt.F64):
        return _float_lowerer(_K_F64, "f64")
    if isinstance(ty, wt.ListType):
        return _list_lowerer(lowerer(ty.element))
    if isinstance(ty, wt.RecordType):
        return _record_lowerer([(name, lowerer(t)) for name, t in ty.fields])
    if isinstance(ty, wt.TupleType):
        return _tuple_lowerer([lowerer(t) for t in ty.elements])
    if isinstance(ty, wt.OptionType):
        return _option_lowerer(lowerer(ty.payload))
    if isinstance(ty, wt.ResultType):
        return _result_lowerer(
            None if ty.ok is None else lowerer(ty.ok), None if ty.err is None else lowerer(ty.err)
        )
    if isinstance(ty, wt.EnumType):
        return _enum_lowerer(ty.names)
    if isinstance(ty, wt.VariantType):
        return _variant_lowerer({n: None if t is None else lowerer(t) for n, t in ty.cases})
    raise TypeError(f"agentcell cannot lower WIT type {ty!r}")


def _list_lowerer(elem: Lower) -> Lower:
    def lower(v: Any, x: Any) -> None:
        items = list(x)
        n = len(items)
        ffi.wasmtime_component_vallist_new_uninit(byref(v.of.list), n)
        data = v.of.list.data
        _zeroed_vals(data, n)
        v.kind = _K_LIST
        for i, item in enumerate(items):
            elem(data[i], item)

    return lower


def _record_lowerer(fields: list[tuple[str, Lower]]) -> Lower:
    names = [(name.encode(), _snake(name), low) for name, low in fields]

    def lower(v: Any, x: Any) -> None:
        n = len(names)
        ffi.wasmtime_component_valrecord_new_uninit(byref(v.of.record), n)
        data = v.of.record.data
        if n:
            ctypes.memset(data, 0, n * sizeof(ffi.wasmtime_component_valrecord_entry_t))
        v.kind = _K_RECORD
        for i, (raw_name, attr, low) in enumerate(names):
            entry = data[i]
            _byte_vec_new(byref(entry.name), len(raw_name), raw_name)
            low(entry.val, _field(x, attr))

    return lower


def _tuple_lowerer(elems: list[Lower]) -> Lower:
    def lower(v: Any, x: Any) -> None:
        items = tuple(x)
        if len(items) != len(elems):
            raise TypeError(f"expected a tuple of {len(elems)}, got {len(items)} items")
        ffi.wasmtime_component_valtuple_new_uninit(byref(v.of.tuple), len(elems))
        data = v.of.tuple.data
        _zeroed_vals(data, len(elems))
        v.kind = _K_TUPLE
        for i, (low, item) in enumerate(zip(elems, items, strict=True)):
            low(data[i], item)

    return lower


def _option_lowerer(inner: Lower) -> Lower:
    def lower(v: Any, x: Any) -> None:
        v.of.option = None if x is None else _boxed(inner, x)
        v.kind = _K_OPTION

    return lower


def _result_lowerer(ok: Lower | None, err: Lower | None) -> Lower:
    def lower(v: Any, x: Any) -> None:
        if isinstance(x, Ok):
            is_ok, low, payload = True, ok, x.value
        elif isinstance(x, Err):
            is_ok, low, payload = False, err, x.value
        else:
            raise TypeError(f"expected Ok or Err, got {type(x).__name__}")
        v.of.result.is_ok = is_ok
        v.of.result.val = None if low is None else _boxed(low, payload)
        v.kind = _K_RESULT

    return lower


def _enum_lowerer(names: list[str]) -> Lower:
    allowed = {n: n.encode() for n in names}

    def lower(v: Any, x: Any) -> None:
        raw = allowed.get(x)
        if raw is None:
            raise ValueError(f"{x!r} is not one of {sorted(allowed)}")
        _byte_vec_new(byref(v.of.enumeration), len(raw), raw)
        v.kind = _K_ENUM

    return lower


def _variant_lowerer(cases: dict[str, Lower | None]) -> Lower:
    def lower(v: Any, x: Any) -> None:
        case, payload = x
        if case not in cases:
            raise ValueError(f"{case!r} is not one of {sorted(cases)}")
        raw = case.encode()
        _byte_vec_new(byref(v.of.variant.discriminant), len(raw), raw)
        low = cases[case]
        v.of.variant.val = None if low is None else _boxed(low, payload)
        v.kind = _K_VARIANT

    return lower
