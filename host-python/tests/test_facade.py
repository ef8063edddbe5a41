"""The typed facade (`agentcell._wit`, generated from `wit/`) against the component."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import agentcell
from agentcell import _wit
from agentcell._wasm import DEFAULT_WASM, load_component


def _component_exports(wasm: Path | None = None) -> dict[str, dict[str, list[str]]]:
    """interface -> function -> parameter names, read from the compiled component (the
    test build the suite loads, unless `wasm` names another)."""
    loaded = load_component(wasm)
    out: dict[str, dict[str, list[str]]] = {}
    for name, item in loaded.component.type.exports(loaded.engine).items():
        iface = name.split("/", 1)[1].split("@", 1)[0]
        funcs = item.ty.exports(loaded.engine)
        out[iface] = {
            fname: [p for p, _ in f.ty.params] for fname, f in funcs.items() if hasattr(f.ty, "params")
        }
    return out


def _facade_name(export: str, params: list[str]) -> tuple[str, list[str]]:
    """A component export's facade method and parameters: `f`, or for a resource's
    `[static]r.f` / `[method]r.f` the method `r_f`, whose `self` is named `r`."""
    if not export.startswith("["):
        return export.replace("-", "_"), [p.replace("-", "_") for p in params]
    resource, fn = export.split("]", 1)[1].split(".")
    named = [resource if p == "self" else p for p in params]
    return f"{resource}_{fn}".replace("-", "_"), [p.replace("-", "_") for p in named]


def test_every_export_of_the_component_has_a_typed_method_with_its_parameters() -> None:
    exports = _component_exports()
    facade = agentcell.Runtime(":memory:").exports
    assert sorted(facade.__slots__) == sorted(i.replace("-", "_") for i in exports)
    assert "[method]store.put" in exports["memory"], "resources are covered"
    for iface, funcs in exports.items():
        cls = type(getattr(facade, iface.replace("-", "_")))
        methods = {n for n, _ in inspect.getmembers(cls, inspect.isfunction) if not n.startswith("_")}
        expected = dict(_facade_name(f, params) for f, params in funcs.items())
        assert methods == set(expected), iface
        for name, params in expected.items():
            sig = inspect.signature(getattr(cls, name))
            assert list(sig.parameters)[1:] == params, f"{iface}.{name}"


def test_the_facade_names_the_package_the_component_implements() -> None:
    assert agentcell.build_info().wit_package == _wit.WIT_PACKAGE


def test_a_result_export_returns_its_value_and_raises_its_error() -> None:
    rt = agentcell.Runtime(":memory:")
    assert rt.exports.diagnostics.counter_add("jobs", 2) == 2
    with pytest.raises(agentcell.InvalidArgumentError):
        rt.exports.diagnostics.counter_add("", 1)
    assert rt.exports.meta.health_check() is True


def test_a_closed_runtime_says_so() -> None:
    rt = agentcell.Runtime(":memory:")
    rt.close()
    with pytest.raises(agentcell.AgentcellError, match="closed"):
        rt.exports.meta.version()


def test_the_shipped_component_has_no_test_only_exports() -> None:
    shipped, test_build = _component_exports(DEFAULT_WASM), _component_exports()
    assert "bench" not in shipped and "testing" not in shipped
    assert {"bench", "testing"} <= set(test_build)
    assert {i: f for i, f in test_build.items() if i not in ("bench", "testing")} == shipped
    with pytest.raises(AttributeError, match=r"exports no testing\.trap"):
        agentcell.Runtime(":memory:", wasm=DEFAULT_WASM).exports.testing.trap("x")
