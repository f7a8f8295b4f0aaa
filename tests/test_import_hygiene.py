"""Import rules of the house: `import runyard` stays light, faces use the front door, nothing imports in circles.

- A training job never pays for the app's libraries (a fresh interpreter, outside the repository).
- Installed, runyard lives under one `runyard` namespace: a script beside its own `tracker.py` and `tui.py`
  still gets runyard, and those files are not shadowed either.
- `tui` imports only the names `runyard` exports (its front door), never a private module of the tracker.
- `tracker` never imports `tui`; the headless parts of `tui` (`tui/live`) never import Textual or Rich.
- No import circles anywhere, counting lazy (function-level) imports too: a circle hidden in a function is
  still a circle a newcomer has to untangle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import PROJECT, child_env

HEAVY = ("pandas", "textual", "watchdog", "plotext", "rich", "torch", "yaml", "pyarrow")
# package folder in the repository -> the name it is installed under
PACKAGES = {"tracker": "runyard", "tui": "runyard.tui"}


def test_import_runyard_and_start_a_run_load_no_heavy_module(tmp_path):
    code = (
        "import sys, runyard\n"
        "runyard.init\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=child_env(), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == ""


def test_a_script_beside_its_own_tracker_and_tui_modules_gets_runyard(tmp_path):
    (tmp_path / "tracker.py").write_text("MINE = 'tracker'\n")
    (tmp_path / "tui.py").write_text("MINE = 'tui'\n")
    (tmp_path / "train.py").write_text(textwrap.dedent("""
        import tracker, tui
        import runyard
        from runyard.tui.cli import main
        with runyard.init("shadow", root="runs", console=False, system_metrics=False) as run:
            run.log({"loss": 1.0})
        print(tracker.MINE, tui.MINE, runyard.open_run(run.path).info.name, callable(main))
    """))
    out = subprocess.run([sys.executable, "train.py"], cwd=tmp_path, env=child_env(), capture_output=True,
                         text=True, check=True).stdout
    assert out.split() == ["tracker", "tui", "shadow", "True"]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PROJECT).with_suffix("")
    parts = list(rel.parts)
    parts[0] = PACKAGES[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for folder in PACKAGES for p in sorted((PROJECT / folder).rglob("*.py"))}


def _imports(path: Path, module: str) -> list[tuple[str, list[str], int]]:
    """(imported module, names, line) for every import outside `if TYPE_CHECKING:`, relative ones resolved."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for child in node.body for n in ast.walk(child))
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join(parent + ([base] if base else []))
            out.append((base, [a.name for a in node.names], node.lineno))
    return out


def _edges() -> dict[str, set[str]]:
    """module -> runyard modules it imports (`from pkg import sub` counts as importing `pkg.sub`)."""
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for target, names, _ in _imports(path, module):
            if target == "runyard" and module.startswith("runyard.tui"):
                continue  # the front door: resolved lazily by name, checked by the next test
            hits = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules] or \
                   ([target] if target in modules else [])
            edges[module].update(h for h in hits if h != module)
    return edges


def test_tui_uses_only_the_front_door_of_runyard():
    import runyard

    bad = []
    for module, path in _modules().items():
        if not module.startswith("runyard.tui"):
            continue
        for target, names, line in _imports(path, module):
            if target == "runyard":
                bad += [f"{path.name}:{line} runyard.{n} is not exported" for n in names if n not in runyard.__all__]
            elif target.startswith("runyard.") and not target.startswith("runyard.tui"):
                bad.append(f"{path.relative_to(PROJECT)}:{line} imports the private module {target}")
    assert not bad, "\n".join(bad)


def test_tracker_never_imports_tui_and_live_state_is_headless():
    bad = []
    for module, path in _modules().items():
        for target, _, line in _imports(path, module):
            if not module.startswith("runyard.tui") and (target.startswith("runyard.tui") or target == "tui"):
                bad.append(f"{module}:{line} imports {target}")
            if module.startswith("runyard.tui.live") and target.split(".")[0] in ("textual", "rich"):
                bad.append(f"{module}:{line} imports {target}")
    assert not bad, "\n".join(bad)


def test_no_import_circles():
    edges = _edges()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    # a package importing its own submodule (a lazy front door) is not a circle when the submodule does not
    # come back through the package itself
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_every_package_folder_is_installed():
    import tomllib

    declared = set(tomllib.loads((PROJECT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {_module_name(p) for folder in PACKAGES for p in (PROJECT / folder).rglob("__init__.py")}
    assert found == declared
