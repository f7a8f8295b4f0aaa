"""The runs table: public Textual API only, sorting with a chooser and ▲/▼, widths that never cut a number, the
footer at 80 columns, and marks, enter and the cursor kept across live updates."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

import runyard
from runyard.tui.app import RunyardApp
from runyard.tui.formatting import cut_middle, fmt_number
from runyard.tui.messages import FilesChanged
from runyard.tui.screens.run import RunScreen
from runyard.tui.screens.sort_chooser import SortChooser
from runyard.tui.widgets.runs_table import COLUMN_KEYS, RowFacts, RunsTable, cells_of, facts_for
from tests.test_app import wait_until

TUI = Path(__file__).resolve().parent.parent / "tui"
PREFIX = "long_run_with_a_very_long_common_prefix_lr3e-4_seed"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RUNYARD_CACHE_DIR", str(tmp_path / "cache"))


def make_run(root: Path, name: str, steps: int = 30, finish: bool = True) -> runyard.Run:
    run = runyard.init(name, root=root, console=False, system_metrics=False, tags=["sweep"])
    for s in range(steps):
        run.log({"val/loss": 3.0 - s * 1e-3}, step=s)
    if finish:
        run.finish()
    return run


async def settle(pilot, predicate, timeout: float = 5.0) -> None:
    await wait_until(pilot, predicate, timeout)


def table(app: App) -> RunsTable:
    return app.screen.query_one(RunsTable)


def lines(t: RunsTable) -> list[str]:
    """What the table shows, line by line (the header first)."""
    return [t.render_line(y).text for y in range(t.size.height)]


def names_in_order(t: RunsTable) -> list[str]:
    return [t.facts[t.key_at(i)].record.info.name for i in range(t.row_count)]


# ----- no private Textual names --------------------------------------------------------------------------------

def foreign_private_names(source: str, inherited: set[str] = frozenset()) -> set[str]:
    """`_names` a module reaches that it does not define itself, or that shadow a base class's (`inherited`).

    A module's own private names are its functions, classes and module-level names, and the attributes its
    `__init__` methods set; setting `self._x` anywhere else, or reading one it never set, is reaching inside.
    """
    tree = ast.parse(source)
    own: set[str] = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    own |= {n.id for n in tree.body for n in ast.walk(n) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for init in ast.walk(tree):
        if isinstance(init, ast.FunctionDef) and init.name == "__init__":
            own |= {n.attr for n in ast.walk(init) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if node.attr not in own or node.attr in inherited:
                found.add(node.attr)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if any(p.startswith("_") and not p.startswith("__") for p in node.module.split(".")):
                found.add(node.module)
            found.update(a.name for a in node.names if a.name.startswith("_"))
    return found


def textual_names(*bases: type) -> set[str]:
    """Every name a Textual base class and its instances carry, private ones included."""
    names: set[str] = set()
    for base in bases:
        names |= set(dir(base)) | set(vars(base()))
    return names


def test_the_scan_catches_what_the_old_table_did():
    from textual.widgets import DataTable

    old = ("class T(DataTable):\n    def __init__(self):\n        self._data = {}\n"
           "    def f(self):\n        self._row_locations = type(self._row_locations)({})\n"
           "        self._update_count += 1\n        return self._show_hover_cursor\n"
           "from textual.widgets._data_table import RowKey\n")
    assert foreign_private_names(old, textual_names(DataTable)) == {
        "_data", "_row_locations", "_update_count", "_show_hover_cursor", "textual.widgets._data_table"}


def test_the_table_touches_no_private_textual_name():
    from textual.screen import ModalScreen
    from textual.scroll_view import ScrollView

    assert foreign_private_names((TUI / "widgets/runs_table.py").read_text(), textual_names(ScrollView)) == set()
    assert foreign_private_names((TUI / "screens/sort_chooser.py").read_text(), textual_names(ModalScreen)) == set()


def test_the_table_overrides_only_the_line_api_hooks():
    """What RunsTable defines that ScrollView already has is the Line API's documented hooks, nothing else (a
    method called `layout` once hid Widget.layout)."""
    from textual.scroll_view import ScrollView

    tree = ast.parse((TUI / "widgets/runs_table.py").read_text())
    body = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "RunsTable").body
    defined = {n.name for n in body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    defined |= {t.id for n in body if isinstance(n, (ast.Assign, ast.AnnAssign))
                for t in (n.targets if isinstance(n, ast.Assign) else [n.target]) if isinstance(t, ast.Name)}
    hooks = {"ALLOW_SELECT", "BINDINGS", "COMPONENT_CLASSES", "DEFAULT_CSS", "render_line", "notify_style_update"}
    assert defined & textual_names(ScrollView) - {"__init__"} == hooks


# ----- cut in the middle ---------------------------------------------------------------------------------------

def test_cut_middle_keeps_both_ends():
    assert cut_middle("short", 10) == "short"
    cut = cut_middle(f"{PREFIX}3", 20)
    assert len(cut) == 20 and cut.startswith("long_run") and cut.endswith("_seed3") and "…" in cut
    assert cut_middle("日本語のランの名前", 9) == "日本…名前"  # wide characters count two cells
    assert cut_middle("abc", 1) == "…" and cut_middle("abc", 0) == ""


def test_a_tag_that_is_not_a_string_is_shown_not_fatal(facts):
    """A scan cache hands back the tag "nan" as a float NaN; the row shows it rather than failing to draw."""
    facts[0].record.info.tags = ["snap", float("nan")]
    assert cells_of(facts[0])[COLUMN_KEYS.index("tags")] == (("snap, nan", "italic"),)


# ----- widths --------------------------------------------------------------------------------------------------

@pytest.fixture
def sweep(tmp_path) -> Path:
    """Three runs whose names differ only at the end, 2,000 rows each, and a short one."""
    root = tmp_path / "runs"
    for seed in (1, 2, 3):
        make_run(root, f"{PREFIX}{seed}", steps=2000)
    make_run(root, "short", steps=1)
    return root


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_columns_fit_their_content_and_names_are_cut_in_the_middle(sweep, size):
    app = RunyardApp(sweep, watch=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot, lambda: app.first_scan_done and table(app).row_count == 4
                     and all(f.size is not None for f in table(app).facts.values()))  # no redraw still to come
        t = table(app)
        for i, key in enumerate(t.facts):  # steps/s as a fast run shows it: the widest a number gets
            t.update_row(dataclasses.replace(t.facts[key], rate=28740.0 + i))
        await pilot.pause()
        shown = lines(t)
        header = shown[0].split()
        assert header[:3] == ["status", "name", "step"] and "steps/s" in header and "start" in header
        assert "▼" in header  # sorted by start, newest first
        for seed in (1, 2, 3):
            row = next(line for line in shown if f"_seed{seed}" in line)
            cells = row.split()
            name = cells[2]
            assert "…" in name and name.startswith("long_run") and name.endswith(f"_seed{seed}"), row
            assert cells[3] == "1999"  # the last step index, under `step`
            rate = fmt_number(t.facts[next(k for k, f in t.facts.items() if f.record.info.name == f"{PREFIX}{seed}")]
                              .rate)
            assert rate in cells and len(rate) == 9, row  # 2.874e+04 whole, never 2.874e+
            assert len(row.rstrip()) <= size[0]
        names = [line.split()[2] for line in shown[1:5]]
        assert len(set(names)) == 4  # runs that differ only at the end look different
        if size[0] >= 120:
            assert {"metric", "best", "duration", "format", "tags"} <= set(header)
            assert "sweep" in shown[1] + shown[2]


async def test_the_footer_keeps_quit_and_help_at_80_columns(sweep):
    app = RunyardApp(sweep, watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, lambda: app.first_scan_done and table(app).row_count == 4)
        await pilot.pause(0.2)  # the footer lays out its keys once the bindings are known
        keys = {k.key: k for k in app.screen.query("FooterKey")}
        palette = keys.pop("ctrl+p").region  # docked on the right, over whatever runs under it
        for key in ("q", "question_mark", "space", "s"):
            region = keys[key].region
            assert region.width > 0 and region.right - 1 <= palette.x, (key, region, palette)  # its pad may hide
        assert "S" not in keys  # reverse sort lives in help and the palette, not the footer
        assert "Reverse sort" in [c.title for c in app.get_system_commands(app.screen)]


# ----- sorting -------------------------------------------------------------------------------------------------

class TableApp(App[None]):
    """One RunsTable filled with given rows; it records the messages the table posts."""

    def __init__(self, rows: list[RowFacts]) -> None:
        super().__init__()
        self.rows = rows
        self.messages: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield RunsTable(id="runs")

    def on_mount(self) -> None:
        self.query_one(RunsTable).show_rows(self.rows)
        self.query_one(RunsTable).focus()

    def on_runs_table_row_highlighted(self, message: RunsTable.RowHighlighted) -> None:
        self.messages.append(("highlighted", message.key))

    def on_runs_table_row_selected(self, message: RunsTable.RowSelected) -> None:
        self.messages.append(("selected", message.key))


@pytest.fixture
def facts(tmp_path) -> list[RowFacts]:
    """Five finished runs with 10, 40, 20, 50 and 30 steps, started a second apart (e first, a last)."""
    root = tmp_path / "runs"
    for name, steps in (("e", 30), ("d", 50), ("c", 20), ("b", 40), ("a", 10)):
        make_run(root, name, steps=steps)
    records = sorted(runyard.scan(root), key=lambda r: r.info.name)
    for i, record in enumerate(records):  # a distinct start each, a before b before c ...
        record.info.created = 1_700_000_000.0 + i
    return [facts_for(r, None, False) for r in records]


async def test_sort_chooser_sets_the_column_and_the_header_shows_the_direction(facts):
    app = TableApp(facts)
    async with app.run_test(size=(100, 12)) as pilot:
        t = app.query_one(RunsTable)
        assert names_in_order(t) == ["e", "d", "c", "b", "a"] and "start ▼" in lines(t)[0]
        await pilot.press("s")
        assert isinstance(app.screen, SortChooser)
        await pilot.press("escape")  # cancelled: nothing changes
        assert t.sort_column == "start" and names_in_order(t) == ["e", "d", "c", "b", "a"]
        await pilot.press("s")
        chooser = app.screen
        options = chooser.query_one("OptionList")
        assert options.get_option_at_index(options.highlighted).id == "start"  # it opens on the current column
        options.highlighted = [c.id for c in options.options].index("step")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, SortChooser)
        assert t.sort_column == "step" and t.sort_reverse  # a number sorts largest first
        assert names_in_order(t) == ["d", "b", "e", "c", "a"]
        header = lines(t)[0]
        assert "step ▼" in header and "start ▼" not in header and "start" in header
        await pilot.press("S")
        assert names_in_order(t) == ["a", "c", "e", "b", "d"] and "step ▲" in lines(t)[0]
        name_x = lines(t)[0].index("name")
        await pilot.click(RunsTable, offset=(name_x, 0))  # a click on a header sorts by it, a to z first
        assert t.sort_column == "name" and not t.sort_reverse and "name ▲" in lines(t)[0]
        assert names_in_order(t) == ["a", "b", "c", "d", "e"]
        await pilot.click(RunsTable, offset=(name_x, 0))  # the same header again reverses
        assert t.sort_reverse and names_in_order(t) == ["e", "d", "c", "b", "a"] and "name ▼" in lines(t)[0]


async def test_missing_values_sort_last_both_ways(facts):
    facts[1] = dataclasses.replace(facts[1], last_step=None)  # b has no step yet
    app = TableApp(facts)
    async with app.run_test(size=(100, 12)) as pilot:
        t = app.query_one(RunsTable)
        t.sort_by("step")
        assert names_in_order(t)[-1] == "b"
        await pilot.press("S")
        assert names_in_order(t)[-1] == "b"


# ----- cursor, marks, enter ------------------------------------------------------------------------------------

async def test_keys_and_clicks_post_highlighted_and_selected(facts):
    app = TableApp(facts)
    async with app.run_test(size=(100, 12)) as pilot:
        t = app.query_one(RunsTable)
        key = {f.record.info.name: str(f.record.info.path) for f in facts}
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.click(RunsTable, offset=(20, 4))  # a click highlights the row under it
        await pilot.click(RunsTable, offset=(20, 4), times=2)  # a double click opens it
        await pilot.pause()
        assert app.messages == [("highlighted", key["e"]), ("highlighted", key["d"]), ("selected", key["d"]),
                                ("highlighted", key["b"]), ("selected", key["b"])]
        assert t.highlighted_key() == key["b"] and t.cursor_row == 3


async def test_marks_and_the_cursor_survive_updates_and_resorts(facts, tmp_path):
    app = TableApp(facts)
    async with app.run_test(size=(100, 12)) as pilot:
        t = app.query_one(RunsTable)
        key = {f.record.info.name: str(f.record.info.path) for f in facts}
        t.sort_by("step")  # d b e c a; the cursor stays on e, now third
        assert t.highlighted_key() == key["e"] and t.cursor_row == 2
        await pilot.press("home", "space")  # marks d, moves to b
        assert [r.info.name for r in t.marked()] == ["d"] and t.highlighted_key() == key["b"]
        assert lines(t)[1].split()[0] == "▶"
        for name, steps in (("a", 500), ("c", 10)):  # a overtakes everyone: rows move, the cursor stays on b
            f = t.facts[key[name]]
            t.update_row(dataclasses.replace(f, last_step=steps))
        await pilot.pause()
        assert names_in_order(t) == ["a", "d", "b", "e", "c"]
        assert t.highlighted_key() == key["b"] and t.cursor_row == 2
        make_run(tmp_path / "runs", "z", steps=2)
        z = next(r for r in runyard.scan(tmp_path / "runs") if r.info.name == "z")
        t.show_rows([*t.facts.values(), facts_for(z, None, False)])  # a new run: the cursor stays on b, d marked
        await pilot.pause()
        assert t.row_count == 6 and t.highlighted_key() == key["b"]
        assert [r.info.name for r in t.marked()] == ["d"] and "▶" in lines(t)[1 + names_in_order(t).index("d")]
        await pilot.press("enter")
        await pilot.pause()
        assert app.messages[-1] == ("selected", key["b"])


async def test_a_live_update_redraws_only_its_own_line(facts):
    app = TableApp(facts)
    async with app.run_test(size=(100, 12)) as pilot:
        t = app.query_one(RunsTable)
        await pilot.pause()
        drawn: list[int] = []
        render_line = t.render_line

        def spy(y: int):
            drawn.append(y)
            return render_line(y)

        t.render_line = spy  # type: ignore[method-assign]
        c = next(k for k, f in t.facts.items() if f.record.info.name == "c")
        t.update_row(dataclasses.replace(t.facts[c], last_step=21, rate=2.5))
        await pilot.pause()
        assert drawn and set(drawn) == {t.row_of(c) + 1}
        drawn.clear()
        t.update_row(dataclasses.replace(t.facts[c], last_step=21, rate=2.5))  # nothing changed: nothing drawn
        await pilot.pause()
        assert drawn == []


# ----- the whole app, live -------------------------------------------------------------------------------------

async def test_live_runs_keep_marks_and_cursor_and_enter_opens_the_marked_run(tmp_path):
    root = tmp_path / "runs"
    runs = [make_run(root, f"live{i}", steps=5, finish=False) for i in range(3)]
    app = RunyardApp(root, watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, lambda: app.first_scan_done and table(app).row_count == 3)
        t = table(app)
        await pilot.press("space")  # marks the top run
        marked_key = t.key_at(0)
        await pilot.press("down")
        cursor_key = t.highlighted_key()
        assert cursor_key != marked_key
        for s in range(5, 40):
            for run in runs:
                run.log({"val/loss": 1.0}, step=s)
        app.post_message(FilesChanged({r.path / "metrics.jsonl" for r in runs}, rescan=False))
        await settle(pilot, lambda: all(f.last_step == 39 for f in t.facts.values()))
        await pilot.pause(0.1)
        assert t.highlighted_key() == cursor_key and [str(r.info.path) for r in t.marked()] == [marked_key]
        assert all(" 39 " in line for line in lines(t)[1:4])
        await pilot.press("enter")  # with a run marked, enter opens the marked runs
        await settle(pilot, lambda: isinstance(app.screen, RunScreen))
        assert [str(r.info.path) for r in app.screen.records] == [marked_key]
        for run in runs:
            run.finish()
