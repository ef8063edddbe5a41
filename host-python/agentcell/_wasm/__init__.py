"""Everything that touches wasmtime lives in this package."""

from .host_imports import send_request
from .runtime import DEFAULT_WASM, LoadedComponent, Runtime, interface_name, load_component
from .values import Err, Ok, Resource

__all__ = [
    "DEFAULT_WASM",
    "Err",
    "LoadedComponent",
    "Ok",
    "Resource",
    "Runtime",
    "interface_name",
    "load_component",
    "send_request",
]
