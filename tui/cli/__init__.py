"""The `runyard` command: the app by default, and non-interactive subcommands for scripts.

    runyard [ROOT | RUN]          the app (ROOT defaults to ./runs)
    runyard ls [ROOT]             a table of runs             (--filter, --sort, --json)
    runyard show RUN              info, config, summary, checkpoints
    runyard tail RUN [-f]         the log, followed
    runyard plot RUN... -m NAME   curves in the terminal      (--x step|time|relative)

Errors are one line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from runyard import TrackerError

SUBCOMMANDS = ("ls", "show", "tail", "plot")


class CliError(click.ClickException):
    """An expected failure: printed as one line, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"runyard: error: {self.message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """runyard: follow, compare and manage training runs from the terminal."""


def _json_out(data: Any) -> None:
    import orjson

    from runyard import to_jsonable

    sys.stdout.buffer.write(orjson.dumps(to_jsonable(data), default=str, option=orjson.OPT_INDENT_2) + b"\n")


@cli.command("ls")
@click.argument("root", default="runs", type=click.Path(path_type=Path))
@click.option("--filter", "-f", "filter_text", default="", help="Text and key<value conditions, e.g. 'lr<1e-3 base'.")
@click.option("--sort", "-s", "sort_key", default="created", help="Column or key to sort by; '-' prefix descends.")
@click.option("--no-archive", is_flag=True, help="Leave out runs under archive/ folders.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def ls_command(root: Path, filter_text: str, sort_key: str, no_archive: bool, as_json: bool) -> None:
    """List the runs under ROOT (any depth, every layout runyard reads)."""
    from runyard import compile_filter, scan, sort_records

    from .listing import records_json, runs_table

    records = scan(root)
    if no_archive:
        records = [r for r in records if not r.info.archived]
    if filter_text:
        records = [r for r in records if compile_filter(filter_text)(r)]
    records = sort_records(records, sort_key)
    if as_json:
        _json_out(records_json(records))
        return
    from rich.console import Console

    Console().print(runs_table(records, root))


@cli.command("show")
@click.argument("run")
@click.option("--root", default="runs", type=click.Path(path_type=Path), help="Where to look for RUN by id or name.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show_command(run: str, root: Path, as_json: bool) -> None:
    """Info, config, summary and checkpoints of RUN (a path, or an id or name under --root)."""
    from runyard import find_run

    from .listing import run_json, show_run

    view = find_run(run, root)
    if as_json:
        _json_out(run_json(view))
        return
    from rich.console import Console

    show_run(Console(), view)


@cli.command("tail")
@click.argument("run")
@click.option("--root", default="runs", type=click.Path(path_type=Path), help="Where to look for RUN by id or name.")
@click.option("--follow", "-f", is_flag=True, help="Keep printing lines as they are written.")
@click.option("--lines", "-n", default=40, show_default=True, help="How many of the last lines to print first.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail_command(run: str, root: Path, follow: bool, lines: int, as_json: bool) -> None:
    """Print the log of RUN (escape sequences stripped), and with -f follow it."""
    from runyard import find_run

    from .tailing import tail_log

    view = find_run(run, root)
    if view.log_path is None:
        raise CliError(f"{view.path}: this run has no log file")
    tail_log(view.log_path, lines=lines, follow=follow, as_json=as_json)


@cli.command("plot")
@click.argument("runs", nargs=-1, required=True)
@click.option("--root", default="runs", type=click.Path(path_type=Path), help="Where to look for runs by id or name.")
@click.option("--metric", "-m", "metrics", multiple=True, help="Metric to plot (repeatable); default: the main one.")
@click.option("--x", "x_axis", type=click.Choice(["step", "time", "relative"]), default="step", show_default=True)
@click.option("--smooth", default=0.0, show_default=True, help="EMA weight in [0, 1) as TensorBoard's slider.")
@click.option("--log-y", is_flag=True, help="Logarithmic y axis.")
@click.option("--width", type=int, default=None, help="Plot width in columns (default: the terminal's).")
@click.option("--height", type=int, default=None, help="Plot height in rows (default: 20).")
@click.option("--json", "as_json", is_flag=True, help="Print the plotted points as JSON.")
def plot_command(runs: tuple[str, ...], root: Path, metrics: tuple[str, ...], x_axis: str, smooth: float,
                 log_y: bool, width: int | None, height: int | None, as_json: bool) -> None:
    """Draw curves of one or more runs right in the terminal."""
    from runyard import find_run

    from .plotting import plot_runs

    if not 0 <= smooth < 1:
        raise CliError("--smooth takes a weight from 0 (none) up to, not including, 1")
    views = [find_run(r, root) for r in runs]
    text, data = plot_runs(views, list(metrics), x_axis, smooth, log_y, width, height)
    if as_json:
        _json_out(data)
    else:
        sys.stdout.write(text + "\n")


def main(argv: list[str] | None = None) -> int:
    """Entry point: subcommands go to click, anything else opens the app."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and (argv[0] in SUBCOMMANDS or argv[0] in ("-h", "--help")):
            return cli.main(args=argv, prog_name="runyard", standalone_mode=False) or 0
        return _open_app(argv)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 130
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (TrackerError, OSError, ValueError) as exc:
        click.echo(f"runyard: error: {_one_line(exc)}", err=True)
        return 1


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("path", default="runs", type=click.Path(path_type=Path))
@click.option("--poll", is_flag=True, help="Poll for changes instead of filesystem events (for NFS and friends; "
              "network filesystems are detected and polled anyway).")
def app_command(path: Path, poll: bool) -> None:
    """Open the app on PATH: a folder of runs (default ./runs) or one run."""
    from ..app import RunyardApp

    root, run = _root_and_run(path)
    RunyardApp(root, open_path=run, poll=True if poll else None).run()


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
    if isinstance(exc, FileNotFoundError) and exc.filename and not exc.args[1:]:
        return f"no such file or folder: {exc.filename}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


if __name__ == "__main__":
    raise SystemExit(main())
