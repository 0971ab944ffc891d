"""The package's shape (issue 14): data flows one way through the layers, no
import cycles, no module over 450 lines, every subpackage in the wheel.

The import graph is read with `ast`, not by importing: a module is checked
even when its dependencies are missing, and nothing runs. Imports inside
functions count for the layer rule (a lazy import up the flow is still a
dependency up the flow) and for the second cycle check: a lazy import only
puts off a cycle to run time, the modules still cannot be read or moved one
without the other. Imports under TYPE_CHECKING never run: they count for the
layers only.
The checks are plain functions, run on `assistant/` and on a small synthetic
package that breaks each rule once, so each check is shown able to fail.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "assistant"
MAX_LINES = 450

# Lowest first: a module may import from its own layer or lower ones. The key
# is the first name under `assistant.` ("stores" for assistant.stores.chroma,
# "__init__" for the package's own __init__.py). apps may import evals (the
# CLI runs the eval), not the other way round; conversations (the chat page's
# saved history) may read the gold format of evals to export feedback.
LAYERS: list[set[str]] = [
    {"errors", "types", "resources", "processes", "settings", "settings_errors", "prompts", "text", "registry"},
    {"ingest"},
    {"embedders"},
    {"stores"},
    {"retrieval"},
    {"reader"},
    {"llms"},
    # The rewrite stage runs before retrieval but shares the answer stage's
    # reading of questions (planted instructions, the brackets a condensed
    # follow-up carries): one layer.
    {"answerers", "rewrite"},
    {"engine", "pipeline"},
    {"api", "core", "library", "examples", "__init__"},
    {"evals"},
    {"conversations"},
    {"apps"},
]


@dataclass(frozen=True)
class Import:
    source: str  # importing module, dotted
    target: str  # imported module, dotted
    line: int
    top_level: bool  # runs when the module is imported (not in a function, not TYPE_CHECKING)
    type_only: bool = False  # under TYPE_CHECKING: never runs


def modules(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file, for every module of the package at `root`."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    assert package in out, f"{root} is not the package {package}"
    return out


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    """The longest known module that `name` names or lies in."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(root: Path, package: str) -> list[Import]:
    """Every import of a module of the package by a module of the package."""
    known = modules(root, package)
    found: list[Import] = []

    def visit(node: ast.AST, module: str, is_pkg: bool, top: bool, typing: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_top = top and not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            child_typing = typing
            if isinstance(child, ast.If) and _is_type_checking(child):
                child_top, child_typing = False, True
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative: from its own package upwards
                    anchor = module.split(".") if is_pkg else module.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (child.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                # `from assistant import prompts` imports the module assistant.prompts.
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in child.names]
            for t in dict.fromkeys(targets):
                if t == package or t.startswith(package + "."):
                    resolved = _resolve(t, known)
                    if resolved and resolved != module:
                        found.append(Import(module, resolved, child.lineno, child_top, child_typing))
            visit(child, module, is_pkg, child_top, child_typing)

    for name, path in known.items():
        visit(ast.parse(path.read_text(encoding="utf-8"), str(path)), name, path.name == "__init__.py", True, False)
    return found


def layer_key(module: str, package: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(found: list[Import], package: str, layers: list[set[str]]) -> list[str]:
    """Imports from a higher layer, and modules whose layer is not in the table."""
    rank = {key: i for i, keys in enumerate(layers) for key in keys}
    problems = set()
    for imp in found:
        a, b = layer_key(imp.source, package), layer_key(imp.target, package)
        for key, mod in ((a, imp.source), (b, imp.target)):
            if key not in rank:
                problems.add(f"{mod}: layer {key!r} is not in the table")
        if a in rank and b in rank and rank[b] > rank[a]:
            problems.add(f"{imp.source}:{imp.line} imports {imp.target} (layer {b!r} is above {a!r})")
    return sorted(problems)


# The answer stage reads only the `RetrievedContext` it is handed (issue 23):
# nothing under answerers/ may reach the store, the retrieval or the engine,
# lazily or not, so an answerer is tested without an index.
ANSWER_STAGE = "answerers"
NOT_FROM_ANSWER_STAGE = {"stores", "retrieval", "engine"}


def forbidden_imports(found: list[Import], package: str, source: str, targets: set[str]) -> list[str]:
    """Imports from layer `source` of any layer in `targets`."""
    return sorted(
        f"{i.source}:{i.line} imports {i.target}"
        for i in found
        if layer_key(i.source, package) == source and layer_key(i.target, package) in targets
    )


def cycles(found: list[Import], lazy: bool = False) -> list[list[str]]:
    """Import cycles among module-level imports, or with `lazy` among all
    imports that run (those inside functions too, not TYPE_CHECKING ones):
    strongly connected components of more than one module, each sorted."""
    graph: dict[str, set[str]] = {}
    for imp in found:
        if imp.top_level or (lazy and not imp.type_only):
            graph.setdefault(imp.source, set()).add(imp.target)
            graph.setdefault(imp.target, set())
    # Tarjan's algorithm, iterative (no recursion limit on a deep graph).
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return sorted(out)


def long_modules(root: Path, package: str, limit: int = MAX_LINES) -> list[str]:
    out = []
    for path in modules(root, package).values():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append(f"{path.relative_to(root.parent)}: {n} lines")
    return out


def unlisted_packages(root: Path, package: str, pyproject: Path) -> list[str]:
    """Package folders missing from [tool.setuptools] packages, and listed
    packages with no folder (a package-dir mapping counts as its folder)."""
    setup = tomllib.loads(pyproject.read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(setup.get("packages", []))
    mapped = set(setup.get("package-dir", {}))
    folders = {
        ".".join(d.relative_to(root.parent).parts)
        for d in [root, *root.rglob("*")]
        if d.is_dir() and d.name != "__pycache__" and any(d.glob("*.py"))
    }
    missing = [f"{f}: not in [tool.setuptools] packages" for f in sorted(folders - listed)]
    stale = [f"{p}: listed but no such folder" for p in sorted(listed - folders - mapped)]
    return missing + stale


# Each component is built from its own settings sections and cannot see the
# others (issue 14): no constructor of a class takes the whole `Settings`.
# The top of the program holds it (apps/: the CLI, the chat page; evals/),
# and settings.py defines it; plain functions may take it, as the entry
# points that choose components (`get_embedder(settings)`, `sync`).
WHOLE_SETTINGS = "Settings"
MAY_HOLD_SETTINGS = {"apps", "evals", "settings"}


def _names_settings(annotation: ast.expr | None) -> bool:
    """Whether an annotation names `Settings` (`Settings`, `settings.Settings`,
    `Settings | None`, `Optional[Settings]`, or any of these as a string)."""
    for node in ast.walk(annotation) if annotation is not None else ():
        if isinstance(node, ast.Name) and node.id == WHOLE_SETTINGS:
            return True
        if isinstance(node, ast.Attribute) and node.attr == WHOLE_SETTINGS:
            return True
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                if _names_settings(ast.parse(node.value, mode="eval").body):
                    return True
            except SyntaxError:
                continue
    return False


def _is_dataclass(cls: ast.ClassDef) -> bool:
    for d in cls.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if (isinstance(target, ast.Name) and target.id == "dataclass") or (
            isinstance(target, ast.Attribute) and target.attr == "dataclass"
        ):
            return True
    return False


def settings_constructors(root: Path, package: str, exempt: set[str] = MAY_HOLD_SETTINGS) -> list[str]:
    """Classes whose constructor takes a parameter annotated `Settings`: an
    `__init__` parameter, or a field of a dataclass (a parameter of the
    `__init__` it generates). Modules whose layer is in `exempt` are left out."""
    problems = []
    for name, path in modules(root, package).items():
        if layer_key(name, package) in exempt:
            continue
        for cls in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(cls, ast.ClassDef):
                continue
            for node in cls.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "__init__":
                    a = node.args
                    for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg]:
                        if arg is not None and _names_settings(arg.annotation):
                            problems.append(f"{name}:{arg.lineno} {cls.name}.__init__ takes {arg.arg}: Settings")
                elif isinstance(node, ast.AnnAssign) and _is_dataclass(cls) and _names_settings(node.annotation):
                    field = getattr(node.target, "id", "?")
                    problems.append(f"{name}:{node.lineno} {cls.name} (a dataclass) takes {field}: Settings")
    return sorted(problems)


# --- the checks on assistant/ -------------------------------------------


@pytest.fixture(scope="module")
def found() -> list[Import]:
    return imports(REPO / PACKAGE, PACKAGE)


def test_the_graph_is_read(found):
    # The checks below are vacuous if the parser finds nothing.
    assert any(i.source == "assistant.apps.cli" and i.target == "assistant.api" for i in found)
    assert any(not i.top_level for i in found)  # lazy imports seen too


def test_no_import_cycles(found):
    assert cycles(found) == []


def test_no_import_cycles_counting_lazy_imports(found):
    assert cycles(found, lazy=True) == []


def test_no_import_up_the_data_flow(found):
    assert upward_imports(found, PACKAGE, LAYERS) == []


def test_answerers_never_reach_the_store(found):
    assert forbidden_imports(found, PACKAGE, ANSWER_STAGE, NOT_FROM_ANSWER_STAGE) == []


def test_no_module_over_450_lines():
    assert long_modules(REPO / PACKAGE, PACKAGE) == []


def test_every_package_folder_is_in_the_wheel():
    assert unlisted_packages(REPO / PACKAGE, PACKAGE, REPO / "pyproject.toml") == []


def test_no_component_constructor_takes_the_whole_settings():
    assert settings_constructors(REPO / PACKAGE, PACKAGE) == []


# --- the same checks on a package that breaks each rule once ---------------


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    files = {
        "__init__.py": "",
        "types.py": "from pkg.stores.base import Store  # up the flow\n",
        "stores/__init__.py": "",
        "stores/base.py": (
            "from pkg.stores import chroma\nclass Store: ...\n"
            "class Index:\n    def __init__(self, index: IndexSettings, settings: Settings | None = None): ...\n"
            "@dataclass(frozen=True)\nclass Job:\n    settings: 'Settings'\n"
            "def sync(settings: Settings): ...  # a function: fine\n"
        ),
        "stores/chroma.py": (
            "from . import base  # cycle with base\n"
            "class Backend:\n    def __init__(self, chroma: ChromaSettings, *, index: IndexSettings): ...\n"
            "    class Client:\n        def __init__(self, *, config: settings.Settings): ...\n"
        ),
        "retrieval/__init__.py": "",
        "retrieval/hybrid.py": (
            "from pkg.stores.base import Store  # down: fine\n"
            "def later():\n    from pkg.apps import cli  # lazy, still up\n"
        ),
        "answerers/__init__.py": "",
        "answerers/rules.py": "def later():\n    from pkg.retrieval.hybrid import later  # lazy, still the store\n",
        "apps/__init__.py": "",
        "apps/cli.py": "import pkg.retrieval.hybrid\n" + "x = 1\n" * (MAX_LINES + 1),
        "extra/__init__.py": "",
        "extra/thing.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.apps.cli import x\n",
        "settings.py": "class Settings:\n    def __init__(self, base: Settings | None = None): ...\n",
        "apps/page.py": "class Page:  # the top of the program holds the settings\n    def __init__(self, settings: Settings): ...\n",
    }
    root = tmp_path / "pkg"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.setuptools]\npackages = ["pkg", "pkg.stores", "pkg.retrieval", "pkg.answerers", "pkg.apps", "pkg.gone"]\n'
    )
    return root


def test_checks_catch_a_bad_package(bad: Path):
    found = imports(bad, "pkg")
    layers = [{"types", "__init__"}, {"stores"}, {"retrieval"}, {"answerers"}, {"apps"}]
    assert cycles(found) == [["pkg.stores.base", "pkg.stores.chroma"]]
    # hybrid imports cli inside a function, cli imports hybrid: a cycle once lazy imports count.
    assert cycles(found, lazy=True) == [
        ["pkg.apps.cli", "pkg.retrieval.hybrid"],
        ["pkg.stores.base", "pkg.stores.chroma"],
    ]
    assert upward_imports(found, "pkg", layers) == [
        "pkg.extra.thing: layer 'extra' is not in the table",
        "pkg.retrieval.hybrid:3 imports pkg.apps.cli (layer 'apps' is above 'retrieval')",
        "pkg.types:1 imports pkg.stores.base (layer 'stores' is above 'types')",
    ]
    assert forbidden_imports(found, "pkg", "answerers", {"retrieval"}) == [
        "pkg.answerers.rules:2 imports pkg.retrieval.hybrid"
    ]
    assert long_modules(bad, "pkg") == [f"pkg/apps/cli.py: {MAX_LINES + 2} lines"]
    assert unlisted_packages(bad, "pkg", bad.parent / "pyproject.toml") == [
        "pkg.extra: not in [tool.setuptools] packages",
        "pkg.gone: listed but no such folder",
    ]
    assert settings_constructors(bad, "pkg") == [
        "pkg.stores.base:4 Index.__init__ takes settings: Settings",
        "pkg.stores.base:7 Job (a dataclass) takes settings: Settings",
        "pkg.stores.chroma:5 Client.__init__ takes config: Settings",
    ]
    # apps/ and settings.py, left out above, break it too
    assert settings_constructors(bad, "pkg", exempt=set()) == [
        "pkg.apps.page:2 Page.__init__ takes settings: Settings",
        "pkg.settings:2 Settings.__init__ takes base: Settings",
        *settings_constructors(bad, "pkg"),
    ]


def test_type_checking_imports_make_no_cycle(bad: Path):
    (bad / "apps" / "cli.py").write_text("from pkg.extra import thing\n")
    found = imports(bad, "pkg")
    assert ["pkg.apps.cli", "pkg.extra.thing"] not in cycles(found)
    assert ["pkg.apps.cli", "pkg.extra.thing"] not in cycles(found, lazy=True)
    # ...but they still count for the layers: extra -> apps is there.
    assert any(i.source == "pkg.extra.thing" and i.target == "pkg.apps.cli" and not i.top_level for i in found)
