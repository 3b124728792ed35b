"""The house rules of DESIGN.md, read from the source with ast: who may import whom, and sizes.

Every import counts, also one inside a function or under `if TYPE_CHECKING:`: an import
placed in a function to dodge a cycle is still a cycle. Each rule is a function over a tree
of files, run once against feedsvc/ and once against a small deliberately broken tree, so a
rule that could never fail is itself caught.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "feedsvc"
MAX_LINES = 400
# Alembic's revision scripts are generated, append-only history, not modules anyone reads whole.
EXEMPT_FROM_SIZE = ("feedsvc.storage.migrations.versions.",)


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. feedsvc.web.fastpath
    path: Path
    lines: int
    imports: frozenset[str]  # dotted names as imported, resolved to absolute


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, name: str, is_package: bool) -> Iterator[tuple[str, str | None]]:
    """Every import statement anywhere in the file: (absolute module, name imported from it)."""
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                source = f"{base}.{node.module}" if node.module else base
            else:
                source = node.module or ""
            yield from ((source, alias.name) for alias in node.names)


def load_tree(root: Path, package: str = PACKAGE) -> dict[str, Module]:
    """All modules of package under root, with what each imports."""
    found: dict[str, tuple[Path, int, list[tuple[str, str | None]]]] = {}
    for path in sorted((root / package).rglob("*.py")):
        name = _module_name(root, path)
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text, filename=str(path))
        found[name] = (
            path,
            len(text.splitlines()),
            list(_imports(tree, name, path.name == "__init__.py")),
        )
    modules: dict[str, Module] = {}
    for name, (path, lines, statements) in found.items():
        imports = set()
        for source, imported in statements:
            # `from pkg import mod` depends on pkg.mod, not on everything pkg/__init__ imports.
            submodule = f"{source}.{imported}"
            imports.add(submodule if submodule in found else source)
        modules[name] = Module(name, path, lines, frozenset(imports))
    return modules


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def internal_edges(modules: dict[str, Module]) -> dict[str, set[str]]:
    """module -> the project's modules it imports (names that are not modules are dropped)."""
    return {
        m.name: {i for i in m.imports if i in modules and i != m.name} for m in modules.values()
    }


def _reachable(edges: dict[str, set[str]], start: str) -> dict[str, str]:
    """Every module start reaches, mapped to the module it was reached from (for messages)."""
    seen: dict[str, str] = {}
    stack = [start]
    while stack:
        current = stack.pop()
        for target in edges.get(current, ()):
            if target not in seen and target != start:
                seen[target] = current
                stack.append(target)
    return seen


def _path_to(seen: dict[str, str], start: str, target: str) -> str:
    chain = [target]
    while chain[-1] != start:
        chain.append(seen[chain[-1]])
    return " -> ".join(reversed(chain))


# --- the rules: each returns the violations it finds, one sentence each ------------------------


def web_never_renders(modules: dict[str, Module]) -> list[str]:
    """Nothing a request runs (feedsvc.web, and all it imports) reaches the renderer or the
    scheduler's code: a request never renders (DESIGN.md, "The job")."""
    edges = internal_edges(modules)
    found = []
    for name in sorted(n for n in modules if _within(n, f"{PACKAGE}.web")):
        seen = _reachable(edges, name)
        for banned in (f"{PACKAGE}.feeds", f"{PACKAGE}.publishing"):
            for target in sorted(t for t in seen if _within(t, banned)):
                found.append(f"{_path_to(seen, name, target)}: web code reaches {banned}")
    return found


_FEEDS_MAY_NOT = ("flask", "werkzeug", "sqlalchemy")


def feeds_are_pure(modules: dict[str, Module]) -> list[str]:
    """The renderer imports no web framework, no database layer, nothing of ours but itself."""
    found = []
    for module in modules.values():
        if not _within(module.name, f"{PACKAGE}.feeds"):
            continue
        for imported in sorted(module.imports):
            top = imported.split(".")[0]
            if top in _FEEDS_MAY_NOT or (
                top == PACKAGE and not _within(imported, f"{PACKAGE}.feeds")
            ):
                found.append(f"{module.name} imports {imported}")
    return found


def _only_inside(library: str, allowed: str) -> Callable[[dict[str, Module]], list[str]]:
    def rule(modules: dict[str, Module]) -> list[str]:
        return [
            f"{m.name} imports {library} (only {allowed} may)"
            for m in modules.values()
            if any(_within(i, library) for i in m.imports) and not _within(m.name, allowed)
        ]

    rule.__name__ = f"{library}_only_in_{allowed.rpartition('.')[2]}"
    rule.__doc__ = f"{library} is imported only under {allowed}."
    return rule


feedgen_only_in_feeds = _only_inside("feedgen", f"{PACKAGE}.feeds")
apscheduler_only_in_scheduler = _only_inside("apscheduler", f"{PACKAGE}.publishing.scheduler")


def no_import_cycles(modules: dict[str, Module]) -> list[str]:
    """No module reaches itself through imports (Tarjan's strongly connected components)."""
    edges = internal_edges(modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[str] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append("import cycle among " + ", ".join(sorted(component)))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def modules_are_small(modules: dict[str, Module]) -> list[str]:
    """No module past MAX_LINES lines: one job each, small enough to hold in one's head."""
    return [
        f"{m.name} has {m.lines} lines (at most {MAX_LINES})"
        for m in modules.values()
        if m.lines > MAX_LINES and not m.name.startswith(EXEMPT_FROM_SIZE)
    ]


def modules_say_their_job(modules: dict[str, Module]) -> list[str]:
    """Every module opens with a one-line docstring saying its job."""
    found = []
    for m in modules.values():
        doc = ast.get_docstring(ast.parse(m.path.read_text(encoding="utf-8")))
        if not doc or not doc.strip():
            found.append(f"{m.name} has no docstring")
        elif m.path.stat().st_size and "\n" in doc.split("\n\n")[0].strip():
            found.append(f"{m.name}'s docstring does not open with one line")
    return found


RULES = [
    web_never_renders,
    feeds_are_pure,
    feedgen_only_in_feeds,
    apscheduler_only_in_scheduler,
    no_import_cycles,
    modules_are_small,
    modules_say_their_job,
]


@pytest.fixture(scope="module")
def feedsvc_tree() -> dict[str, Module]:
    return load_tree(ROOT)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_feedsvc_keeps_the_rule(
    rule: Callable[[dict[str, Module]], list[str]], feedsvc_tree: dict[str, Module]
) -> None:
    assert rule(feedsvc_tree) == []


def test_the_tree_is_read_whole(feedsvc_tree: dict[str, Module]) -> None:
    # The rules above mean nothing if the walk misses the packages they speak of.
    for package in ("web", "web.api", "publishing", "feeds", "storage", "content"):
        assert f"{PACKAGE}.{package}" in feedsvc_tree
    assert feedsvc_tree[f"{PACKAGE}.web.fastpath"].imports


# --- each rule against a tree broken on purpose ----------------------------------------------

_DOC = '"""A module."""\n'

BROKEN: dict[str, dict[str, str]] = {
    # A web module reaching the renderer through a service, from inside a function.
    "web_never_renders": {
        "web/__init__.py": _DOC,
        "web/view.py": _DOC + "def get():\n    from feedsvc import helper\n",
        "helper.py": _DOC + "from feedsvc.publishing.passes import run\n",
        "publishing/__init__.py": _DOC,
        "publishing/passes.py": _DOC + "run = 1\n",
    },
    "feeds_are_pure": {
        "feeds/__init__.py": _DOC,
        "feeds/rss.py": _DOC + "from ..storage import models\n",
        "storage/__init__.py": _DOC,
        "storage/models.py": _DOC,
    },
    "feedgen_only_in_feeds": {
        "web/__init__.py": _DOC,
        "web/view.py": _DOC + "def get():\n    import feedgen.feed\n",
    },
    "apscheduler_only_in_scheduler": {
        "cli.py": _DOC + "from apscheduler.schedulers.background import BackgroundScheduler\n",
    },
    # The cycle closes only through an import inside a function.
    "no_import_cycles": {
        "a.py": _DOC + "from feedsvc import b\n",
        "b.py": _DOC + "def f():\n    from feedsvc.c import x\n",
        "c.py": _DOC + "import feedsvc.a\nx = 1\n",
    },
    "modules_are_small": {"big.py": _DOC + "x = 1\n" * MAX_LINES},
    "modules_say_their_job": {"quiet.py": "x = 1\n"},
}


def _write_tree(root: Path, files: dict[str, str]) -> None:
    (root / PACKAGE).mkdir()
    (root / PACKAGE / "__init__.py").write_text(_DOC)
    for relative, text in files.items():
        path = root / PACKAGE / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.__name__)
def test_rule_catches_a_broken_tree(
    rule: Callable[[dict[str, Module]], list[str]], tmp_path: Path
) -> None:
    _write_tree(tmp_path, BROKEN[rule.__name__])
    assert rule(load_tree(tmp_path)) != []


def test_every_rule_has_a_broken_tree() -> None:
    assert sorted(BROKEN) == sorted(r.__name__ for r in RULES)


# --- the suite's own rule ---------------------------------------------------------------------


def suite_imports_no_test_module(modules: dict[str, Module]) -> list[str]:
    """A test module imports helpers from tests.support, never another test module or conftest:
    each test module can be read, run and deleted on its own."""

    def is_test(name: str) -> bool:
        leaf = name.rpartition(".")[2]
        return leaf.startswith("test_") or leaf == "conftest"

    return [
        f"{m.name} imports {i}"
        for m in modules.values()
        for i in sorted(m.imports)
        if i != m.name and i in modules and is_test(i)
    ]


def test_no_test_module_imports_another() -> None:
    assert suite_imports_no_test_module(load_tree(ROOT, "tests")) == []


def test_the_test_rule_catches_a_broken_suite(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text(_DOC)
    (tmp_path / "tests" / "conftest.py").write_text(_DOC + "EDITOR = 1\n")
    (tmp_path / "tests" / "test_a.py").write_text(_DOC + "from tests.conftest import EDITOR\n")
    assert suite_imports_no_test_module(load_tree(tmp_path, "tests")) == [
        "tests.test_a imports tests.conftest"
    ]
