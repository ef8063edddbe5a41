"""Generates `host-python/agentcell/_wit.py`, the typed facade over the component's
exports, from the WIT files in `wit/`.

    python scripts/wit_facade.py           # writes the facade
    python scripts/wit_facade.py --check   # fails when the checked-in facade is stale

The parser reads the subset of WIT this package uses (interfaces with `use`, records,
enums, variants, functions, doc comments; the world's exports). Every exported
interface becomes a class whose methods call `Runtime.call` (or `call_ok` for a
`result<T, error>`, returning T and raising the mapped `AgentcellError`), with the
records as `TypedDict`s, enums as `Literal`s and variants as `(case, payload)` tuples:
the forms the runtime lowers and lifts. So mypy checks every call from the Python layer
against the WIT.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIT = ROOT / "wit"
OUT = ROOT / "host-python" / "agentcell" / "_wit.py"
SHIPPED_WORLD = "agentcell"
TEST_WORLD = "agentcell-test"


@dataclass
class Func:
    name: str
    params: list[tuple[str, str]]
    result: str | None
    docs: list[str]
    resource: str | None = None  # the resource a `static` function or method is of
    static: bool = False

    @property
    def export_name(self) -> str:
        """The export's name in the component: `f`, `[static]r.f` or `[method]r.f`."""
        if self.resource is None:
            return self.name
        return f"[{'static' if self.static else 'method'}]{self.resource}.{self.name}"

    @property
    def py_name(self) -> str:
        """The facade method: `f`, or `r_f` for a resource's (the store as first argument)."""
        return _snake(self.name if self.resource is None else f"{self.resource}-{self.name}")


@dataclass
class TypeDef:
    kind: str  # record | enum | variant
    name: str
    items: list[tuple[str, str | None]]  # field/case name and its type (None: no payload)
    docs: list[str]
    item_docs: list[list[str]]


@dataclass
class Interface:
    name: str
    docs: list[str]
    uses: dict[str, str] = field(default_factory=dict)  # type name -> interface
    types: dict[str, TypeDef] = field(default_factory=dict)
    funcs: list[Func] = field(default_factory=list)
    resources: dict[str, list[str]] = field(default_factory=dict)  # name -> its docs


@dataclass
class Package:
    name: str
    interfaces: dict[str, Interface]
    exports: list[str]
    test_only: list[str]


_TOKEN = re.compile(r"///[^\n]*|//[^\n]*|->|[A-Za-z0-9_%@.-]+|[{}()<>,;:=*/]")


def _tokens(text: str) -> list[str]:
    return [t for t in _TOKEN.findall(text) if not (t.startswith("//") and not t.startswith("///"))]


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.toks = tokens
        self.i = 0

    def docs(self) -> list[str]:
        out = []
        while self.i < len(self.toks) and self.toks[self.i].startswith("///"):
            out.append(self.toks[self.i][3:].strip())
            self.i += 1
        return out

    def peek(self) -> str:
        self.docs_skipped = self.docs()
        return self.toks[self.i]

    def take(self, expected: str | None = None) -> str:
        tok = self.toks[self.i]
        if expected is not None and tok != expected:
            raise SyntaxError(f"expected {expected!r}, found {tok!r} near token {self.i}")
        self.i += 1
        return tok

    def name(self) -> str:
        return self.take().lstrip("%")

    def type(self) -> str:
        """A type as text, e.g. `list<tuple<string, u32>>` or `result<_, error>`."""
        head = self.take()
        if self.toks[self.i] != "<":
            return head
        self.take("<")
        args = [self.type()]
        while self.toks[self.i] == ",":
            self.take(",")
            args.append(self.type())
        self.take(">")
        return f"{head}<{', '.join(args)}>"


def parse(wit_dir: Path) -> Package:
    interfaces: dict[str, Interface] = {}
    worlds: dict[str, list[str]] = {}
    package = ""
    for path in sorted(wit_dir.glob("*.wit")):
        p = _Parser(_tokens(path.read_text()))
        while p.i < len(p.toks):
            docs = p.docs()
            if p.i >= len(p.toks):
                break
            tok = p.take()
            if tok == "package":  # `package ns:name@version;`, tokenised at the colon
                name = ""
                while p.toks[p.i] != ";":
                    name += p.take()
                p.take(";")
                if package and name != package:
                    raise SyntaxError(f"{path.name}: package {name}, other files {package}")
                package = name
            elif tok == "interface":
                iface = Interface(p.name(), docs)
                _parse_interface(p, iface)
                interfaces[iface.name] = iface
            elif tok == "world":
                world = worlds.setdefault(p.name(), [])
                p.take("{")
                while p.peek() != "}":
                    kind, name = p.take(), p.name()
                    p.take(";")
                    if kind == "export":
                        world.append(name)
                    elif kind == "include":
                        world.extend(worlds[name])
                p.take("}")
            else:
                raise SyntaxError(f"{path.name}: unexpected {tok!r}")
    # The facade covers the test world, a superset of the shipped one: the test-only
    # interfaces are marked, and exist only in the test build.
    shipped = worlds[SHIPPED_WORLD]
    return Package(
        package, interfaces, worlds[TEST_WORLD], [i for i in worlds[TEST_WORLD] if i not in shipped]
    )


def _parse_interface(p: _Parser, iface: Interface) -> None:
    p.take("{")
    while True:
        docs = p.docs()
        tok = p.take()
        if tok == "}":
            return
        if tok == "use":
            source, _, names = p.take().partition(".")
            assert names == "" or names.startswith("{"), names
            if p.toks[p.i] == "{":
                p.take("{")
            while p.toks[p.i] != "}":
                iface.uses[p.name()] = source
                if p.toks[p.i] == ",":
                    p.take(",")
            p.take("}")
            p.take(";")
        elif tok in ("record", "enum", "variant"):
            name = p.name()
            p.take("{")
            items: list[tuple[str, str | None]] = []
            item_docs = []
            while True:
                d = p.docs()
                if p.toks[p.i] == "}":
                    break
                item = p.name()
                ty: str | None = None
                if tok == "record":
                    p.take(":")
                    ty = p.type()
                elif p.toks[p.i] == "(":
                    p.take("(")
                    ty = p.type()
                    p.take(")")
                items.append((item, ty))
                item_docs.append(d)
                if p.toks[p.i] == ",":
                    p.take(",")
            p.take("}")
            iface.types[name] = TypeDef(tok, name, items, docs, item_docs)
        elif tok == "resource":
            name = p.name()
            iface.resources[name] = docs
            p.take("{")
            while True:
                fdocs = p.docs()
                ftok = p.take()
                if ftok == "}":
                    break
                iface.funcs.append(_parse_func(p, ftok, fdocs, resource=name))
        else:
            iface.funcs.append(_parse_func(p, tok, docs))


def _parse_func(p: _Parser, name: str, docs: list[str], resource: str | None = None) -> Func:
    """`name: [static] func(params) [-> result];`, after its name."""
    p.take(":")
    static = p.toks[p.i] == "static"
    if static:
        p.take("static")
    p.take("func")
    p.take("(")
    params = []
    if resource is not None and not static:
        params.append(("self", f"borrow<{resource}>"))
    while p.toks[p.i] != ")":
        pname = p.name()
        p.take(":")
        params.append((pname, p.type()))
        if p.toks[p.i] == ",":
            p.take(",")
    p.take(")")
    result = None
    if p.toks[p.i] == "->":
        p.take("->")
        result = p.type()
    p.take(";")
    return Func(name.lstrip("%"), params, result, docs, resource, static)


# --- generation ---------------------------------------------------------------------


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _snake(name: str) -> str:
    return name.replace("-", "_")


_PRIMS = {
    "bool": "bool",
    "string": "str",
    "char": "str",
    "f32": "float",
    "f64": "float",
    **dict.fromkeys(("u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64"), "int"),
}


def _split_args(inner: str) -> list[str]:
    depth, start, out = 0, 0, []
    for i, ch in enumerate(inner):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(inner[start:i].strip())
            start = i + 1
    out.append(inner[start:].strip())
    return out


class _Namer:
    """Python names for the WIT types: `<Interface><Type>`, unique across the package."""

    def __init__(self, pkg: Package) -> None:
        self.pkg = pkg

    def owner(self, iface: Interface, name: str) -> Interface:
        while name in iface.uses:
            iface = self.pkg.interfaces[iface.uses[name]]
        return iface

    def type_name(self, iface: Interface, name: str) -> str:
        owner = self.owner(iface, name)
        return _camel(owner.name) + _camel(name)

    def hint(self, iface: Interface, ty: str, *, param: bool) -> str:
        if param and ty == "string":
            return "Text"
        if ty in _PRIMS:
            return _PRIMS[ty]
        m = re.fullmatch(r"(\w+)<(.*)>", ty)
        if m:
            head, args = m.group(1), _split_args(m.group(2))
            if head == "list":
                if args[0] == "u8":
                    return "bytes"
                inner = self.hint(iface, args[0], param=param)
                return f"Sequence[{inner}]" if param else f"list[{inner}]"
            if head == "option":
                return f"{self.hint(iface, args[0], param=param)} | None"
            if head == "tuple":
                return f"tuple[{', '.join(self.hint(iface, a, param=param) for a in args)}]"
            if head == "result":
                return "Ok | Err"
            if head in ("own", "borrow"):
                return self.type_name(iface, args[0])
        if ty == "_":
            return "None"
        return self.type_name(iface, ty)


def _doc(lines: list[str], indent: str) -> list[str]:
    text = [ln.replace("\\", "\\\\").replace('"""', "'''") for ln in lines]
    if not text:
        return []
    if len(text) == 1:
        return [f'{indent}"""{text[0]}"""']
    return [f'{indent}"""{text[0]}', *[f"{indent}{ln}".rstrip() for ln in text[1:]], f'{indent}"""']


def _is_error_result(ty: str | None) -> tuple[bool, str]:
    if ty is None:
        return False, "None"
    m = re.fullmatch(r"result<(.*)>", ty)
    if not m:
        return False, ty
    args = _split_args(m.group(1))
    if len(args) == 2 and args[1] == "error":
        return True, args[0]
    return False, ty


def generate(pkg: Package) -> str:
    namer = _Namer(pkg)
    ns, _, version = pkg.name.partition("@")
    out = [
        '"""The typed facade over the component\'s exports. GENERATED by',
        "`scripts/wit_facade.py` from `wit/`: do not edit; `make lint` checks it is current.",
        "",
        "    rt.exports.memory.store_count(store)   # -> int, or raises the mapped AgentcellError",
        "",
        "Each method is one `Runtime.call` (`call_ok` for a `result<T, error>`).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Sequence",
        "from typing import TYPE_CHECKING, Literal, TypedDict",
        "",
        "from ._wasm.values import Err, Ok, Resource",
        "",
        "if TYPE_CHECKING:",
        "    from ._wasm.runtime import Runtime",
        "",
        "# A `string` argument may also be given as UTF-8 bytes: the runtime copies them as",
        "# they are (the fast path for hex blobs).",
        "Text = str | bytes",
        "",
        f'WIT_PACKAGE = "{pkg.name}"',
        f'WIT_NAMESPACE = "{ns}"',
        f'WIT_VERSION = "{version}"',
        "",
        '__all__ = ["WIT_NAMESPACE", "WIT_PACKAGE", "WIT_VERSION", "Exports"]',
    ]
    enums: list[str] = []
    aliases: list[str] = []
    records: list[str] = []
    for iname in pkg.interfaces:
        iface = pkg.interfaces[iname]
        for rname, rdocs in iface.resources.items():
            # A resource lifts to a `Resource`; the alias names which one in signatures.
            aliases += ["", *[f"# {d}" for d in rdocs], f"{namer.type_name(iface, rname)} = Resource"]
        for t in iface.types.values():
            py = namer.type_name(iface, t.name)
            if t.kind == "enum":
                cases = ", ".join(f'"{c}"' for c, _ in t.items)
                enums += ["", *[f"# {d}" for d in t.docs], f"{py} = Literal[{cases}]"]
            elif t.kind == "variant":
                parts = []
                for case, ty in t.items:
                    payload = "None" if ty is None else namer.hint(iface, ty, param=False)
                    parts.append(f'tuple[Literal["{case}"], {payload}]')
                aliases += ["", *[f"# {d}" for d in t.docs], f"{py} = {' | '.join(parts)}"]
            else:
                body = []
                for (fname, fty), fdocs in zip(t.items, t.item_docs, strict=True):
                    assert fty is not None
                    body += [
                        *[f"    # {d}" for d in fdocs],
                        f"    {_snake(fname)}: {namer.hint(iface, fty, param=False)}",
                    ]
                records += ["", "", f"class {py}(TypedDict):", *_doc(t.docs, "    "), *(body or ["    pass"])]
    # Records first: their annotations are resolved lazily (`from __future__`); aliases are
    # evaluated at import, enums before the variants that carry them.
    out += records
    out += enums
    out += aliases
    # Interfaces.
    classes = []
    for iname in pkg.exports:
        iface = pkg.interfaces[iname]
        cls = _camel(iname)
        docs = iface.docs or [f"`{iname}`"]
        if iname in pkg.test_only:
            docs = [
                *docs,
                "",
                "In the test build only (world `agentcell-test`); the shipped component lacks it.",
            ]
        lines = ["", "", f"class {cls}:", *_doc(docs, "    ")]
        lines += [
            "",
            '    __slots__ = ("_call", "_call_ok")',
            "",
            "    def __init__(self, rt: Runtime) -> None:",
            "        self._call = rt.call",
            "        self._call_ok = rt.call_ok",
        ]
        for f in iface.funcs:
            raises, ret = _is_error_result(f.result)
            ret_hint = "None" if ret in ("None", "_") else namer.hint(iface, ret, param=False)
            # A method's `self` is named after its resource (`store`).
            pnames = [_snake(f.resource or n) if n == "self" else _snake(n) for n, _ in f.params]
            hints = [namer.hint(iface, t, param=True) for _, t in f.params]
            params = "".join(f", {pn}: {h}" for pn, h in zip(pnames, hints, strict=True))
            args = "".join(f", {pn}" for pn in pnames)
            call = "self._call_ok" if raises else "self._call"
            lines += ["", f"    def {f.py_name}(self{params}) -> {ret_hint}:", *_doc(f.docs, "        ")]
            if ret_hint == "None":
                lines.append(f'        {call}("{iname}", "{f.export_name}"{args})')
            else:
                lines += [
                    f'        out: {ret_hint} = {call}("{iname}", "{f.export_name}"{args})',
                    "        return out",
                ]
        classes.append((iname, cls))
        out += lines
    out += [
        "",
        "",
        "class Exports:",
        '    """Every exported interface of the component, bound to one runtime."""',
        "",
        f"    __slots__ = ({', '.join(repr(_snake(n)) for n, _ in sorted(classes))},)",
        "",
        "    def __init__(self, rt: Runtime) -> None:",
    ]
    out += [f"        self.{_snake(n)} = {c}(rt)" for n, c in classes]
    return _formatted("\n".join(out) + "\n")


def _formatted(source: str) -> str:
    """`source` as `ruff format` writes it (the project's formatter and settings)."""
    import subprocess

    done = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--stdin-filename", str(OUT), "-"],
        input=source,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT / "host-python",
    )
    return done.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the checked-in facade is stale")
    args = ap.parse_args()
    text = generate(parse(WIT))
    if args.check:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run `python scripts/wit_facade.py`", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
