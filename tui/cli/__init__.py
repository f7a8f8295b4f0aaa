"""The `runyard` command: the app by default, and non-interactive subcommands for scripts.

    runyard [PATH] [--poll]       the app (PATH: a folder of runs, default ./runs, or one run)
    runyard ls [ROOT]             a table of runs             (--filter, --sort, --wide, -o table|tsv|json)
    runyard show RUN              info, config, summary, checkpoints
    runyard tail RUN [-f]         the log, followed
    runyard plot RUN... -m NAME   curves in the terminal      (--x step|time|relative, --png FILE)
    runyard compare [RUN...]      best and last per metric    (-m, --sort, --filter, --json|--csv|--md)
    runyard diff RUN RUN...       configs side by side, only what differs (--all, --filter, --json|--csv|--md)
    runyard export RUN...         figures as PNG, metrics as CSV (--png DIR, --csv FILE|-)
    runyard best [ROOT] -m NAME   checkpoints of every run ranked by a metric (--top, --filter, --link DIR)
    runyard du [ROOT]             disk usage per run, biggest first, and the total (--json)
    runyard clean [ROOT] RULES    the cleanup plan, then with --yes the moves (--keep-best K, --keep-last K,
                                  --failed-shorter-than D, --older-than AGE, --archive, --filter EXPR)
    runyard archive RUN...        move runs into ROOT/archive/, previewed with sizes (--compress, --filter, --yes)
    runyard restore RUN...        an archived run (plain or compressed) back where it was
    runyard trash list|restore|empty   what was removed; put back; delete for good (--older-than 30d)

Commands that change a runs tree are journaled in ROOT/.runyard/: one killed at any instant is finished or
undone by the next runyard command on that root (and two acting on one run: the second says who is at it).

On a terminal, tables fit its width by leaving out their least important columns (and say which; `--wide`
shows them all); piped, `ls` prints tab-separated values with fixed columns, and nothing is cut. Every string
read from a run's files is printed through `clean_field`: no escape sequence from a run reaches the terminal.

Errors are one line on stderr and exit status 1, never a traceback; an unexpected failure is one line too,
naming the file under the cache folder where its traceback was written (exit status 70).

Whatever the output is, nothing fails to print: characters its encoding lacks (a Latin-1 or ASCII locale) are
written as ASCII stand-ins of the same width (`✓` -> `v`, box lines -> `+-|`); output a reader stopped taking
(`runyard show RUN | head -1`) ends the command quietly with exit status 0, as the reader has all it wanted, and
a closed stdout (`>&-`) takes the output as Python's `print` does, to nowhere (exit status 0 too).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import click

from runyard import TrackerError, clean_field

SUBCOMMANDS = ("ls", "show", "tail", "plot", "compare", "diff", "export", "best", "du", "clean", "archive",
               "restore", "trash")
EXIT_CRASH = 70  # EX_SOFTWARE: runyard itself failed, and the traceback file says where
# Paths are checked by what reads them, which says why one cannot be read in one line ("cannot enter runs:
# permission denied"); Click's own checks (readable, exists) would answer with its usage text instead.
PATH_TYPE = click.Path(path_type=Path, readable=False)
# Errors of writing that only the output meets (its files are only read): `runyard ls > /dev/full`.
_WRITE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EBADF})


def _error(message: str, kind: str = "error") -> None:
    """`runyard: error: ...` on stderr, one line (run names and paths in it cleaned like everything else)."""
    with contextlib.suppress(OSError):  # a stderr nobody reads any more: the exit status still tells
        click.echo(f"runyard: {kind}: {clean_field(message)}", err=True)


class CliError(click.ClickException):
    """An expected failure: printed as one line, exit status 1."""

    def show(self, file: Any = None) -> None:
        _error(self.message)


class Crash(click.ClickException):
    """A failure nobody foresaw: one line naming the file that holds its traceback, exit status 70."""

    exit_code = EXIT_CRASH

    def show(self, file: Any = None) -> None:
        _error(self.message)


class ReaderGone(Exception):
    """What stdout was written to stopped reading (`| head -1`): not an error, the command just ends."""


class RunyardGroup(click.Group):
    """The subcommands, with a usage line that also names the app (`runyard [PATH] [--poll]`), and the one
    place their failures become one line: expected ones (a missing run, a bad filter) exit 1, anything else
    writes its traceback to a file and exits 70."""

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage("runyard", "[PATH] [--poll]")
        formatter.write_usage("runyard", "COMMAND [ARGS]...", prefix="       ")

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        argv = list(args)  # kept for a crash report: the parsed context no longer holds the command line
        ctx = super().make_context(info_name, args, parent=parent, **extra)
        ctx.meta["runyard.argv"] = argv
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:  # raised past click, whose own handling exits 1
            raise ReaderGone from exc
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, KeyboardInterrupt):
            raise
        except (TrackerError, OSError, ValueError) as exc:
            raise CliError(_one_line(exc)) from exc
        except Exception as exc:
            where = _write_crash(ctx.meta.get("runyard.argv", []))
            raise Crash(f"unexpected {type(exc).__name__}: {_one_line(exc)} (the traceback is in {where})") from exc


@click.group(cls=RunyardGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog="Run `runyard COMMAND --help` for a command's options. Errors are one line on stderr "
                    "(exit status 1).")
def cli() -> None:
    """runyard: follow, compare and manage training runs from the terminal.

    \b
    runyard [PATH] [--poll]
        Open the app on PATH: a folder of runs (default ./runs) or one run.
        --poll  poll for changes instead of filesystem events (network
                filesystems are detected and polled anyway)
    runyard COMMAND ...
        The commands below, for quick looks and scripts.
    """


def _json_out(data: Any) -> None:
    import orjson

    from runyard import to_jsonable

    sys.stdout.buffer.write(orjson.dumps(to_jsonable(data), default=str, option=orjson.OPT_INDENT_2) + b"\n")


def _fit_width(wide: bool) -> int | None:
    """The width tables must fit: the terminal's (or $COLUMNS when not a terminal); None: nothing is cut."""
    if wide:
        return None
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 0 else None


def _console(width: int | None, needed: int = 0) -> Any:
    """A Rich console as wide as asked, or as wide as the widest table when nothing may be cut."""
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError  # Rich's own handling exits 1: `main` ends the command its way instead

    if width is None:
        width = max(needed, shutil.get_terminal_size().columns if sys.stdout.isatty() else 0, 80)
    return PipeConsole(width=width, markup=False, emoji=False, highlight=False)


def _find(ref: str, root: Path) -> Any:
    """A run by path, id or name under `root`, or by its folder under `root` (what `ls` shows where names repeat)."""
    from runyard import find_run

    if not Path(ref).exists() and (root / ref).exists():
        ref = str(root / ref)
    return find_run(ref, root)


@cli.command("ls")
@click.argument("root", default="runs", type=PATH_TYPE)
@click.option("--filter", "-f", "filter_text", default="", help="Text and key<value conditions, e.g. 'lr<1e-3 base'.")
@click.option("--sort", "-s", "sort_key", default="created", help="Column or key to sort by; '-' prefix descends.")
@click.option("--no-archive", is_flag=True, help="Leave out runs under archive/ folders.")
@click.option("--wide", "-w", is_flag=True, help="Every column, even wider than the terminal.")
@click.option("--output", "-o", type=click.Choice(["table", "tsv", "json"]), default=None,
              help="table on a terminal, tsv (fixed columns, values in full) when piped.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table (as -o json).")
def ls_command(root: Path, filter_text: str, sort_key: str, no_archive: bool, wide: bool, output: str | None,
               as_json: bool) -> None:
    """List the runs under ROOT (any depth, every layout runyard reads).

    On a terminal the table fits its width: the least important columns (tags, format, duration, start...)
    are left out and named below it, never the name; an id column tells apart runs with the same name.
    Piped, the output is tab-separated values with a header line: id, name, status, format, created (UTC),
    duration (s), steps, metric, last, best, tags, path.
    """
    from runyard import compile_filter, scan, sort_records, unknown_keys

    from .listing import enter_root, records_json, runs_table, runs_tsv, unreadable_note

    keep = compile_filter(filter_text) if filter_text else None  # a filter that cannot be read fails first
    enter_root(root)
    _recovered(root)
    records = scan(root)
    unreadable = unreadable_note(records.unreadable)
    if no_archive:
        records = [r for r in records if not r.info.archived]
    for message in unknown_keys(filter_text, records, sort_key):
        _error(message, "warning")
    if keep is not None:
        records = [r for r in records if keep(r)]
    records = sort_records(records, sort_key)
    output = "json" if as_json else output or ("table" if sys.stdout.isatty() else "tsv")
    if output == "json":
        _json_out(records_json(records))
    elif output == "tsv":
        sys.stdout.write(runs_tsv(records))
    else:
        fitted = runs_table(records, root, _fit_width(wide))
        console = _console(_fit_width(wide), fitted.width)
        console.print(fitted.table)
        note = fitted.hidden_note()
        if note is not None:
            console.print(note)
    if unreadable is not None:
        _error(unreadable, "warning")


@cli.command("show")
@click.argument("run")
@click.option("--root", default="runs", type=PATH_TYPE, help="Where to look for RUN by id or name.")
@click.option("--wide", "-w", is_flag=True, help="Every column, even wider than the terminal.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(run: str, root: Path, wide: bool, as_json: bool) -> None:
    """Info, config, summary and checkpoints of RUN (a path, or an id, name or folder under --root)."""
    from .listing import run_json, show_run

    view = _find(run, root)
    if as_json:
        _json_out(run_json(view))
        return
    width = _fit_width(wide)
    parts, hidden, needed = show_run(view, width)
    console = _console(width, needed)
    for part in parts:
        console.print(part)
    if hidden:
        count = sum(len(h) for _, h in hidden)
        which = "; ".join(f"{title}: {', '.join(h)}" for title, h in hidden)
        console.print(f"{count} column{'s' if count > 1 else ''} hidden ({which}): --wide shows "
                      f"{'them' if count > 1 else 'it'}", style="dim")


@cli.command("tail")
@click.argument("run")
@click.option("--root", default="runs", type=PATH_TYPE, help="Where to look for RUN by id or name.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing lines as they are written.")
@click.option("--lines", "-n", default=40, show_default=True, type=click.IntRange(min=0),
              help="How many of the last lines to print first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail_command(run: str, root: Path, follow: bool, lines: int, as_json: bool) -> None:
    """Print the log of RUN (escape sequences stripped), and with -f follow it, through rotation as `tail -F`.

    A log (or run folder) that cannot be read is one line on stderr, exit status 1.
    """
    from .tailing import tail_log

    view = _find(run, root)
    if view.log_path is None:
        raise CliError(f"{view.path}: this run has no log file")
    tail_log(view.log_path, lines=lines, follow=follow, as_json=as_json)


@cli.command("plot")
@click.argument("runs", nargs=-1, required=True)
@click.option("--root", default="runs", type=PATH_TYPE, help="Where to look for runs by id or name.")
@click.option("--metric", "-m", "metrics", multiple=True, help="Metric to plot (repeatable); default: the main one.")
@click.option("--x", "x_axis", type=click.Choice(["step", "time", "relative"]), default="step", show_default=True)
@click.option("--smooth", default=0.0, show_default=True, help="EMA weight in [0, 1) as TensorBoard's slider.")
@click.option("--log-y", is_flag=True, help="Logarithmic y axis.")
@click.option("--outliers", is_flag=True,
              help="Keep outliers in the y-range (the app's `o`); by default it spans the bulk of the points.")
@click.option("--width", type=int, default=None, help="Plot width in columns (default: the terminal's).")
@click.option("--height", type=int, default=None, help="Plot height in rows (default: the terminal's, at most 24).")
@click.option("--json", "as_json", is_flag=True, help="Print the plotted points as JSON.")
@click.option("--png", type=click.Path(path_type=Path), default=None,
              help="Write the plot to this PNG file instead (matplotlib: pip install 'runyard[png]').")
def plot_command(runs: tuple[str, ...], root: Path, metrics: tuple[str, ...], x_axis: str, smooth: float,
                 log_y: bool, outliers: bool, width: int | None, height: int | None, as_json: bool,
                 png: Path | None) -> None:
    """Draw curves of one or more runs right in the terminal.

    Non-finite values are marked x on the frame's edge, and what could not be drawn (non-finite values, values
    a log axis cannot show, points outside the y-range) is counted below the plot.
    """
    from ..formatting import colour_system
    from .plotting import plot_runs

    if not 0 <= smooth < 1:
        raise CliError("--smooth takes a weight from 0 (none) up to, not including, 1")
    if (width is not None and width < 10) or (height is not None and height < 4):
        raise CliError("--width takes at least 10 columns and --height at least 4 rows")
    if png is not None:
        from runyard import require_matplotlib

        require_matplotlib()
    views = [_find(r, root) for r in runs]
    if png is not None:
        from .plotting import plot_png

        for note in plot_png(views, list(metrics), x_axis, smooth, log_y, outliers, png):
            _say(f"note: {note}")
        if not as_json:
            return
    text, data = plot_runs(views, list(metrics), x_axis, smooth, log_y, width, height, outliers,
                           colours=colour_system(_console(None)))
    if as_json:
        _json_out(data)
    else:
        sys.stdout.write(text + "\n")


@cli.command("compare")
@click.argument("runs", nargs=-1)
@click.option("--root", default="runs", type=click.Path(path_type=Path), help="Where to look for runs by id or name.")
@click.option("--metric", "-m", "metrics", multiple=True,
              help="Metric to compare, as any run names it (repeatable); default: the runs' main ones.")
@click.option("--sort", "-s", "sort_key", default=None,
              help="Metric (best first; METRIC.last, .best_step) or name, status, duration, steps, steps_per_s; "
                   "'-' prefix descends.")
@click.option("--filter", "-f", "filter_text", default="", help="Keep the runs the filter of `ls` keeps.")
@click.option("--alias", "aliases", multiple=True, metavar="METRIC=OTHER[,OTHER]",
              help="Names that are one metric, beyond case and separators (repeatable; adds to runyard.toml's).")
@click.option("--goal", "goals", multiple=True, metavar="METRIC=min|max", help="Which way is better (repeatable).")
@click.option("--wide", "-w", is_flag=True, help="Every column, even wider than the terminal.")
@click.option("--json", "fmt", flag_value="json", help="Print JSON.")
@click.option("--csv", "fmt", flag_value="csv", help="Print CSV.")
@click.option("--md", "fmt", flag_value="md", help="Print a Markdown table.")
@click.option("--output", "-o", type=click.Choice(["table", "tsv", "json", "csv", "md"]), default=None,
              help="table on a terminal, tsv (fixed columns, values in full) when piped.")
def compare_command(runs: tuple[str, ...], root: Path, metrics: tuple[str, ...], sort_key: str | None,
                    filter_text: str, aliases: tuple[str, ...], goals: tuple[str, ...], wide: bool,
                    fmt: str | None, output: str | None) -> None:
    """Compare runs side by side: best (and its step) and last value of each metric, the best run marked.

    RUN is a path, or an id, name or folder under --root; without RUNs, every run under --root (that --filter
    keeps). Metrics are matched across formats by case and separators (val_loss = val/loss), and by the
    [aliases] of runyard.toml or --alias. Piped, the output is tab-separated values.
    """
    from .comparing import compare

    compare(runs, root, metrics, sort_key, filter_text, aliases, goals, fmt or output, width=_fit_width(wide),
            console=_console, json_out=_json_out, warn=lambda message: _error(message, "warning"))
@cli.command("export")
@click.argument("runs", nargs=-1, required=True)
@click.option("--root", default="runs", type=click.Path(path_type=Path), help="Where to look for runs by id or name.")
@click.option("--png", "png_dir", type=click.Path(path_type=Path), default=None,
              help="Folder to write loss_curves.png and lr_schedule.png into (pip install 'runyard[png]').")
@click.option("--csv", "csv_file", default=None, help="File to write the metrics of every run to as CSV; - for stdout.")
def export_command(runs: tuple[str, ...], root: Path, png_dir: Path | None, csv_file: str | None) -> None:
    """Export RUNs: their loss and learning-rate figures as PNG files, their metrics as one CSV table.

    The CSV has a row per (run, step): run, step, time (ISO 8601, UTC), then a column per metric of any run.
    A metric a row did not log is empty, a logged NaN is `nan`. What was written goes to stderr.
    """
    from .exporting import export_runs

    if png_dir is None and csv_file is None:
        raise CliError("export needs --png DIR, --csv FILE (- for stdout), or both")
    if png_dir is not None:
        from runyard import require_matplotlib

        require_matplotlib()
    for line in export_runs([_find(r, root) for r in runs], png_dir, csv_file):
        _say(line)


def _say(line: str) -> None:
    """What a command did, on stderr (stdout holds only the data asked for)."""
    with contextlib.suppress(OSError):
        click.echo(line, err=True)


@cli.command("diff")
@click.argument("runs", nargs=-1)
@click.option("--root", default="runs", type=click.Path(path_type=Path), help="Where to look for runs by id, name "
              "or --filter.")
@click.option("--filter", "-f", "filter_text", default="", help="Keep the runs this matches (as `ls`); without RUNs, "
              "of every run under --root.")
@click.option("--all", "-a", "show_all", is_flag=True, help="Every key, not only those that differ.")
@click.option("--importance", "metric", default=None, help="Also rank the differing keys by how they go with "
              "METRIC's best value.")
@click.option("--wide", "-w", is_flag=True, help="One table, even wider than the terminal.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: section, key, differs, one column per run.")
@click.option("--md", "as_md", is_flag=True, help="Print Markdown tables.")
def diff_command(runs: tuple[str, ...], root: Path, filter_text: str, show_all: bool, metric: str | None,
                 wide: bool, as_json: bool, as_csv: bool, as_md: bool) -> None:
    """Configs of RUNs (or of the runs under --root) side by side, and where each started; only the keys that
    differ unless --all.

    One column per run; a key a run lacks is shown as —. Runs too many for the terminal's width are turned
    (one row per run) or, with many keys too, printed in pages. Piped: tab-separated values.
    """
    from .diffing import run_diff

    run_diff(runs, root, filter_text, show_all, metric, wide, "json" if as_json else "csv" if as_csv else
             "md" if as_md else None, fit_width=_fit_width, console=_console, json_out=_json_out)


@cli.command("best")
@click.argument("root", default="runs", type=PATH_TYPE)
@click.option("--metric", "-m", default=None,
              help="Metric to rank by, as any run names it (val/loss = val_loss); default: the main one recorded.")
@click.option("--mode", type=click.Choice(["min", "max"]), default=None,
              help="Lower or higher is better; default: the metric's declared direction, else a guess.")
@click.option("--top", "-k", type=click.IntRange(min=1), default=None, metavar="K", help="Only the best K.")
@click.option("--filter", "-f", "filter_text", default="", help="Keep the runs this matches (as `ls`).")
@click.option("--link", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Make DIR/01_<run>_step<N>.pt symlinks to the ranked checkpoints (replacing those made before).")
@click.option("--wide", "-w", is_flag=True, help="Every column, even wider than the terminal.")
@click.option("--output", "-o", type=click.Choice(["table", "tsv", "json"]), default=None,
              help="table on a terminal, tsv (the ranked checkpoints, values in full) when piped.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table (as -o json).")
def best_command(root: Path, metric: str | None, mode: str | None, top: int | None, filter_text: str,
                 link: Path | None, wide: bool, output: str | None, as_json: bool) -> None:
    """Rank every checkpoint of every run under ROOT (any layout) by the value of a metric recorded for it.

    The value is the one recorded with the checkpoint (its index line, sidecar or file name); a checkpoint that
    records none takes what its run logged at its step, marked *. A NaN is never ranked; of equal values the
    older checkpoint comes first. Checkpoints are never opened, and one whose file is gone is left out.
    """
    from .best import best

    best(root, metric, mode, top, filter_text, link, "json" if as_json else output, width=_fit_width(wide),
         console=_console, json_out=_json_out, say=_say, warn=lambda message: _error(message, "warning"))


@cli.command("du")
@click.argument("root", default="runs", type=PATH_TYPE)
@click.option("--wide", "-w", is_flag=True, help="Every column, even wider than the terminal.")
@click.option("--output", "-o", type=click.Choice(["table", "tsv", "json"]), default=None,
              help="table on a terminal, tsv (exact bytes) when piped.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (exact bytes).")
def du_command(root: Path, wide: bool, output: str | None, as_json: bool) -> None:
    """Disk usage of every run under ROOT, biggest first: total, checkpoints, logs, other; and the tree's total.

    Bytes on disk, as `du` counts them: a file hard-linked into several runs counts once in the total,
    symlinks are never followed. A run's checkpoints kept beside its folder (ChatGoT's models/) count as its
    own. Piped: tab-separated values in exact bytes (run, total, checkpoints, logs, other, files, format).
    """
    from .cleaning import du

    du(root, as_json, output, _fit_width(wide), console=_console, json_out=_json_out,
       warn=lambda message: _error(message, "warning"))


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    from runyard import parse_duration

    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise CliError(f"--{param.name.replace('_', '-')}: {exc}") from exc


@cli.command("clean")
@click.argument("root", default="runs", type=PATH_TYPE)
@click.option("--keep-best", type=click.IntRange(min=0), default=None, metavar="K",
              help="Keep each run's K best checkpoints by its ranking metric.")
@click.option("--keep-last", type=click.IntRange(min=0), default=None, metavar="K",
              help="Keep each run's K latest checkpoints.")
@click.option("--failed-shorter-than", callback=_duration, default=None, metavar="D",
              help="Trash failed, crashed or interrupted runs that trained less than D (e.g. 10m).")
@click.option("--older-than", callback=_duration, default=None, metavar="AGE",
              help="Trash (or with --archive, archive) runs last active more than AGE ago (e.g. 90d).")
@click.option("--archive", is_flag=True, help="Old runs (and a lone --filter's) go to the archive, not the trash.")
@click.option("--filter", "-f", "filter_text", default=None, metavar="EXPR",
              help="Alone: the runs to remove. With other rules: the only runs they apply to.")
@click.option("--yes", "-y", is_flag=True, help="Apply the plan without asking.")
@click.option("--wide", "-w", is_flag=True, help="Every column, even wider than the terminal.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan (and with --yes, what was done) as JSON.")
def clean_command(root: Path, keep_best: int | None, keep_last: int | None, failed_shorter_than: float | None,
                  older_than: float | None, archive: bool, filter_text: str | None, yes: bool, wide: bool,
                  as_json: bool) -> None:
    """Clean up ROOT by rules: the plan first (what goes to the trash or archive, what stays, and why, with
    sizes), then, with --yes (or a yes at the prompt), the moves.

    The best, the latest, and a resumed-from checkpoint always stay, and so does anything outside ROOT; a
    running run is never touched. Nothing is deleted: the trash is emptied by `runyard trash empty`.
    Durations: 30d, 12h, 90m, 2w, or combined (1d12h).
    """
    from runyard import Policy

    from .cleaning import clean

    policy = Policy(keep_best, keep_last, failed_shorter_than, older_than, archive, filter_text or None)
    clean(root, policy, yes, as_json, _fit_width(wide), console=_console, json_out=_json_out, say=_say,
          fail=CliError)


def _recovered(root: Path) -> None:
    """Finish or undo what an interrupted archive, restore or trash command left in `root`; say so on stderr."""
    from runyard import recover_quietly

    for line in recover_quietly(root):
        _error(line, "note")


@cli.command("archive")
@click.argument("runs", nargs=-1)
@click.option("--root", default="runs", type=PATH_TYPE, help="The runs folder (its archive/ is where runs go).")
@click.option("--filter", "-f", "filter_text", default="", help="Archive the runs this keeps (as `ls --filter`).")
@click.option("--compress", "-z", is_flag=True, help="One verified .tar.zst (with a manifest) per run.")
@click.option("--force", is_flag=True, help="Archive runs that are still running too.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
def archive_command(runs: tuple[str, ...], root: Path, filter_text: str, compress: bool, force: bool,
                    yes: bool) -> int:
    """Move runs into ROOT/archive/ (same relative path): still listed, marked archived; `restore` brings them back.

    RUN is a path, or an id, name or folder under --root; --filter picks runs too. Shows each run with its size
    and asks first. With --compress each run becomes archive/<run>.tar.zst, verified file by file before the run
    is removed. Running runs are left out unless --force.
    """
    from .archiving import archive_runs

    return archive_runs(runs, root, filter_text, compress, force, yes, note=lambda m: _error(m, "note"),
                        error=_error)


@cli.command("restore")
@click.argument("runs", nargs=-1, required=True)
@click.option("--root", default="runs", type=PATH_TYPE, help="The runs folder the runs were archived in.")
def restore_command(runs: tuple[str, ...], root: Path) -> int:
    """Put archived runs back where they were (plain or compressed; exactly, modes and times too).

    RUN is the archived path (archive/x, archive/x.tar.zst), or an archived run's id, name or folder name.
    A run whose place is taken again is refused.
    """
    from .archiving import restore_runs

    return restore_runs(runs, root, note=lambda m: _error(m, "note"), error=_error)


@cli.group("trash")
def trash_group() -> None:
    """The trash of a runs folder (ROOT/.trash): what runyard removed, restorable until emptied."""


@trash_group.command("list")
@click.argument("root", required=False, type=PATH_TYPE)
@click.option("--root", "root_option", default=None, type=PATH_TYPE,
              help="The runs folder whose trash it is (as restore and empty take it; default runs).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--wide", "-w", is_flag=True, help="Every column, even wider than the terminal.")
def trash_list_command(root: Path | None, root_option: Path | None, as_json: bool, wide: bool) -> None:
    """What is in the trash: id, what it was, where, size, when and why it was removed. Piped: TSV."""
    from .archiving import trash_list

    root = root_option or root or Path("runs")

    trash_list(root, as_json, width=_fit_width(wide), console=_console, json_out=_json_out,
               note=lambda m: _error(m, "note"))


@trash_group.command("restore")
@click.argument("ids", nargs=-1, required=True)
@click.option("--root", default="runs", type=PATH_TYPE, help="The runs folder whose trash it is.")
def trash_restore_command(ids: tuple[str, ...], root: Path) -> None:
    """Put items (by id, or a unique start of one) back where they were; refused if that place is taken."""
    from .archiving import trash_restore

    trash_restore(root, ids, note=lambda m: _error(m, "note"))


@trash_group.command("empty")
@click.argument("ids", nargs=-1)
@click.option("--root", default="runs", type=PATH_TYPE, help="The runs folder whose trash it is.")
@click.option("--older-than", "older_than", default=None, metavar="AGE",
              help="Only items trashed longer ago than AGE (30d, 12h, 90m, 2w).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask.")
def trash_empty_command(ids: tuple[str, ...], root: Path, older_than: str | None, yes: bool) -> None:
    """Delete items from the trash for good (all, those named, or --older-than AGE): shows what and how many
    bytes it frees, and asks first."""
    from .archiving import trash_empty

    trash_empty(root, ids, older_than, yes, note=lambda m: _error(m, "note"))


def main(argv: list[str] | None = None) -> int:
    """Entry point: subcommands go to click, anything else opens the app."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _ready_streams()
    try:
        if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
            code = cli.main(args=argv, prog_name="runyard", standalone_mode=False) or 0
        else:
            code = _open_app(argv)
        sys.stdout.flush()  # here, not at exit: a reader gone by now is handled below like any other
        return code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 130
    except KeyboardInterrupt:
        return 130
    except (ReaderGone, BrokenPipeError):  # `runyard ls | head`: the reader has all it wanted
        _drop_stdout()
        return 0
    except (TrackerError, OSError, ValueError) as exc:
        _error(_one_line(exc))
        return 1
    except Exception as exc:  # a bug outside the subcommands (opening the app): one line, the story in a file
        where = _write_crash(argv)
        _error(f"unexpected {type(exc).__name__}: {_one_line(exc)} (the traceback is in {where})")
        return EXIT_CRASH


def _write_crash(argv: list[str]) -> str:
    """Write the traceback being handled to `<cache>/crash-<time>-<pid>.txt`; that path (or why not)."""
    from runyard import cache_root

    stamp = time.strftime("%Y%m%d-%H%M%S")
    report = (f"runyard {' '.join(argv)}\npython {sys.version.split()[0]} on {sys.platform}\n"
              f"{time.strftime('%Y-%m-%d %H:%M:%S %z')}\n\n{traceback.format_exc()}")
    for folder in (cache_root(), Path(tempfile.gettempdir())):
        path = folder / f"crash-{stamp}-{os.getpid()}.txt"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(report, encoding="utf-8")
            return str(path)
        except OSError:
            continue
    return "nowhere: the cache folder and the temporary folder are not writable"


def _ready_streams() -> None:
    """Standard streams that cannot fail the command: a closed one (`>&-`) is /dev/null (so no file opened later
    takes its descriptor, and output goes nowhere as `print` sends it), and each writes the characters its
    encoding lacks as ASCII stand-ins (see `formatting.draw_with_stand_ins`)."""
    from ..formatting import draw_with_stand_ins

    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:  # closed: the lowest free descriptor, which os.open takes, is this one
            try:
                os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            except OSError:
                continue
        if getattr(sys, name) is None:
            try:
                setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))  # noqa: SIM115
            except OSError:
                continue
    draw_with_stand_ins(sys.stdout, sys.stderr)


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush into the closed pipe does not complain."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):  # no real file behind stdout (a test's capture): nothing to do
        pass


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", default="runs", type=PATH_TYPE)
@click.option("--poll", is_flag=True, help="Poll for changes instead of filesystem events (for NFS and friends; "
              "network filesystems are detected and polled anyway).")
def app_command(path: Path, poll: bool) -> int:
    """Open the app on PATH: a folder of runs (default ./runs) or one run."""
    from ..app import RunyardApp

    root, run = _root_and_run(path)
    app = RunyardApp(root, open_path=run, poll=True if poll else None)
    app.run()
    return app.return_code or 0  # 128 + N when signal N ended it


def _root_and_run(path: Path) -> tuple[Path, Path | None]:
    """A runs root to list, and the run to open straight away if PATH is a run itself."""
    from runyard import UnknownLayout, find_source

    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    path = path.resolve()
    try:
        source = find_source(path)
    except UnknownLayout:  # no run here, or several: a root to list; but a file that is no run is an error
        if path.is_file():
            raise
        return path, None
    return (path.parent, path) if source.path == path else (path, None)


def _open_app(argv: list[str]) -> int:
    """`runyard [PATH] [--poll]`: the app."""
    return app_command.main(args=argv, prog_name="runyard", standalone_mode=False) or 0


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.filename is None and exc.errno in _WRITE_ERRORS and exc.strerror:
        return f"cannot write the output: {exc.strerror[:1].lower()}{exc.strerror[1:]}"
    if isinstance(exc, FileNotFoundError) and exc.filename and not exc.args[1:]:
        return f"no such file or folder: {exc.filename}"
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:  # "cannot read x: permission denied"
        from runyard import unreadable_reason

        return unreadable_reason(exc)
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


if __name__ == "__main__":
    raise SystemExit(main())
