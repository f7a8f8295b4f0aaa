"""runyard: write standard run folders from a training loop, and read runs of many layouts.

This module is the front door: the training side (`init`, `Run`), the reading side (`open_run`, `scan`,
`find_run` and the model classes) and the helpers the app and the command line share. Everything else is
private to the package and may move.

`import runyard` is cheap: names are loaded on first use (as `textual.widgets` does), the writer needs only the
standard library and orjson, and the reading side (pandas and friends) loads only when one of its names is asked for.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# public name -> module that defines it (relative to this package)
_EXPORTS = {
    # training side
    "init": ".writer.start",
    "NullRun": ".writer.start",
    "Run": ".writer.run",
    "ConfigError": ".errors",
    "RunError": ".errors",
    "TrackerError": ".errors",
    # the model every layout is read into
    "RunInfo": ".model",
    "MetricSummary": ".model",
    "Goal": ".model",
    "Checkpoint": ".model",
    "Sample": ".model",
    # reading
    "open_run": ".reading.api",
    "find_run": ".reading.api",
    "find_source": ".reading.api",
    "RunView": ".reading.records",
    "UnknownLayout": ".reading.api",
    "scan": ".reading.scanner",
    "find_moved": ".reading.scanner",
    "RunRecord": ".reading.records",
    "read_record": ".reading.records",
    "settle_status": ".reading.records",
    "derive_status": ".liveness",
    "last_beat": ".liveness",
    "TailReader": ".reading.tail",
    "NotRegularFile": ".files",
    "open_regular": ".files",
    "unreadable_reason": ".files",
    "MetricsTail": ".reading.tail",
    "read_last_lines": ".reading.textcodec",
    # helpers the faces share
    "compile_filter": ".reading.filters",
    "sort_records": ".reading.filters",
    "FilterError": ".reading.filters",
    "flatten": ".reading.configtree",
    "direction": ".reading.metricnames",
    "best_of": ".reading.metricnames",
    "main_metrics": ".reading.metricnames",
    "prepare": ".reading.curves",
    "Prepared": ".reading.curves",
    "robust_range": ".reading.curves",
    "ema_debiased": ".reading.curves",
    "on_axis": ".reading.curves",
    "x_span": ".reading.curves",
    "clean_line": ".reading.textsafe",
    "clean_block": ".reading.textsafe",
    "clean_field": ".reading.textsafe",
    "unknown_keys": ".reading.filters",
    "cache_root": ".reading.cachedir",
    "LOG_STAMP": ".layouts.common",
    "line_time": ".layouts.common",
    "to_jsonable": ".jsonl",
    # operations: the config diff and which keys matter
    "config_diff": ".ops.configdiff",
    "ConfigDiff": ".ops.configdiff",
    "DiffKey": ".ops.configdiff",
    "MISSING": ".ops.configdiff",
    "origin_of": ".ops.configdiff",
    "format_value": ".ops.configdiff",
    "align_numbers": ".ops.configdiff",
    "fold": ".ops.configdiff",
    "key_importance": ".ops.importance",
    "KeyImportance": ".ops.importance",
    # operations: comparison of metrics
    "match_metrics": ".ops.metricmatch",
    "MetricMatch": ".ops.metricmatch",
    "load_aliases": ".ops.metricmatch",
    "read_aliases": ".ops.metricmatch",
    "parse_alias": ".ops.metricmatch",
    "metric_key": ".ops.metricmatch",
    "compare_runs": ".ops.compare",
    "select_runs": ".ops.compare",
    "short_names": ".ops.compare",
    "aliases_for": ".ops.compare",
    "CompareTable": ".ops.compare",
    "CompareRow": ".ops.compare",
    "MetricCell": ".ops.compare",
    "CompareError": ".ops.compare",
    "export_figures": ".ops.figures",
    "plot_figure": ".ops.figures",
    "FigureCurve": ".ops.figures",
    "FigureExport": ".ops.figures",
    "PngUnavailable": ".ops.figures",
    "require_matplotlib": ".ops.figures",
    "write_metrics_csv": ".ops.export",
    # operations: the best checkpoints across a tree
    "rank_checkpoints": ".ops.best",
    "checkpoint_ranking": ".ops.best",
    "link_ranking": ".ops.best",
    "in_archive": ".ops.best",
    "RankedCheckpoint": ".ops.best",
    "CheckpointRanking": ".ops.best",
    "BestError": ".ops.best",
    "NoCheckpoints": ".ops.best",
    # operations: the compressed archive format
    "ArchiveMismatch": ".ops.tarzst",
    "write_archive": ".ops.tarzst",
    "verify_archive": ".ops.tarzst",
    "extract_archive": ".ops.tarzst",
    "read_manifest": ".ops.tarzst",
    "write_manifest": ".ops.tarzst",
    # operations: managing the yard
    "DiskUsage": ".ops.diskusage",
    "path_usage": ".ops.diskusage",
    "reclaimable": ".ops.diskusage",
    "du_size": ".ops.diskusage",
    "iec_size": ".ops.diskusage",
    "run_usage": ".ops.diskusage",
    "tree_usage": ".ops.diskusage",
    "TreeUsage": ".ops.diskusage",
    "RunUsage": ".ops.diskusage",
    "Policy": ".ops.clean",
    "CleanPlan": ".ops.clean",
    "PlanAction": ".ops.clean",
    "Kept": ".ops.clean",
    "ActionResult": ".ops.clean",
    "plan_clean": ".ops.clean",
    "apply_plan": ".ops.clean",
    # operations: moves, journaled (archive, restore, trash)
    "Busy": ".ops.journal",
    "operation": ".ops.journal",
    "recover": ".ops.journal",
    "recover_quietly": ".ops.journal",
    "kill_point": ".ops.journal",
    "inside_root": ".ops.journal",
    "parse_duration": ".ops.durations",
    "TrashEntry": ".ops.trash",
    "move_to_trash": ".ops.trash",
    "list_trash": ".ops.trash",
    "restore_from_trash": ".ops.trash",
    "empty_trash": ".ops.trash",
    "select_trash": ".ops.trash",
    "trash_reclaimable": ".ops.trash",
    "archive_run": ".ops.archive",
    "restore_run": ".ops.archive",
    "archived_origin": ".ops.archive",
    "is_archived": ".ops.archive",
}

__all__ = [
    "LOG_STAMP",
    "MISSING",
    "ActionResult",
    "ArchiveMismatch",
    "BestError",
    "Busy",
    "Checkpoint",
    "CheckpointRanking",
    "CleanPlan",
    "CompareError",
    "CompareRow",
    "CompareTable",
    "ConfigDiff",
    "ConfigError",
    "DiffKey",
    "DiskUsage",
    "FigureCurve",
    "FigureExport",
    "FilterError",
    "Goal",
    "Kept",
    "KeyImportance",
    "MetricCell",
    "MetricMatch",
    "MetricSummary",
    "MetricsTail",
    "NoCheckpoints",
    "NotRegularFile",
    "NullRun",
    "PlanAction",
    "PngUnavailable",
    "Policy",
    "Prepared",
    "RankedCheckpoint",
    "Run",
    "RunError",
    "RunInfo",
    "RunRecord",
    "RunUsage",
    "RunView",
    "Sample",
    "TailReader",
    "TrackerError",
    "TrashEntry",
    "TreeUsage",
    "UnknownLayout",
    "aliases_for",
    "align_numbers",
    "apply_plan",
    "archive_run",
    "archived_origin",
    "best_of",
    "cache_root",
    "checkpoint_ranking",
    "clean_block",
    "clean_field",
    "clean_line",
    "compare_runs",
    "compile_filter",
    "config_diff",
    "derive_status",
    "direction",
    "du_size",
    "ema_debiased",
    "empty_trash",
    "export_figures",
    "extract_archive",
    "find_moved",
    "find_run",
    "find_source",
    "flatten",
    "fold",
    "format_value",
    "iec_size",
    "in_archive",
    "init",
    "inside_root",
    "is_archived",
    "key_importance",
    "kill_point",
    "last_beat",
    "line_time",
    "link_ranking",
    "list_trash",
    "load_aliases",
    "main_metrics",
    "match_metrics",
    "metric_key",
    "move_to_trash",
    "on_axis",
    "open_regular",
    "open_run",
    "operation",
    "origin_of",
    "parse_alias",
    "parse_duration",
    "path_usage",
    "plan_clean",
    "plot_figure",
    "prepare",
    "rank_checkpoints",
    "read_aliases",
    "read_last_lines",
    "read_manifest",
    "read_record",
    "reclaimable",
    "recover",
    "recover_quietly",
    "require_matplotlib",
    "restore_from_trash",
    "restore_run",
    "robust_range",
    "run_usage",
    "scan",
    "select_runs",
    "select_trash",
    "settle_status",
    "short_names",
    "sort_records",
    "to_jsonable",
    "trash_reclaimable",
    "tree_usage",
    "unknown_keys",
    "unreadable_reason",
    "verify_archive",
    "write_archive",
    "write_manifest",
    "write_metrics_csv",
    "x_span",
]

if TYPE_CHECKING:
    from .errors import ConfigError, RunError, TrackerError
    from .files import NotRegularFile, open_regular, unreadable_reason
    from .jsonl import to_jsonable
    from .layouts.common import LOG_STAMP, line_time
    from .liveness import derive_status, last_beat
    from .model import Checkpoint, Goal, MetricSummary, RunInfo, Sample
    from .ops.archive import archive_run, archived_origin, is_archived, restore_run
    from .ops.best import (
        BestError,
        CheckpointRanking,
        NoCheckpoints,
        RankedCheckpoint,
        checkpoint_ranking,
        in_archive,
        link_ranking,
        rank_checkpoints,
    )
    from .ops.clean import ActionResult, CleanPlan, Kept, PlanAction, Policy, apply_plan, plan_clean
    from .ops.compare import (
        CompareError,
        CompareRow,
        CompareTable,
        MetricCell,
        aliases_for,
        compare_runs,
        select_runs,
        short_names,
    )
    from .ops.configdiff import MISSING, ConfigDiff, DiffKey, align_numbers, config_diff, fold, format_value, origin_of
    from .ops.diskusage import (
        DiskUsage,
        RunUsage,
        TreeUsage,
        du_size,
        iec_size,
        path_usage,
        reclaimable,
        run_usage,
        tree_usage,
    )
    from .ops.durations import parse_duration
    from .ops.export import write_metrics_csv
    from .ops.figures import FigureCurve, FigureExport, PngUnavailable, export_figures, plot_figure, require_matplotlib
    from .ops.importance import KeyImportance, key_importance
    from .ops.journal import Busy, inside_root, kill_point, operation, recover, recover_quietly
    from .ops.metricmatch import MetricMatch, load_aliases, match_metrics, metric_key, parse_alias, read_aliases
    from .ops.tarzst import (
        ArchiveMismatch,
        extract_archive,
        read_manifest,
        verify_archive,
        write_archive,
        write_manifest,
    )
    from .ops.trash import (
        TrashEntry,
        empty_trash,
        list_trash,
        move_to_trash,
        restore_from_trash,
        select_trash,
        trash_reclaimable,
    )
    from .reading.api import UnknownLayout, find_run, find_source, open_run
    from .reading.cachedir import cache_root
    from .reading.configtree import flatten
    from .reading.curves import Prepared, ema_debiased, on_axis, prepare, robust_range, x_span
    from .reading.filters import FilterError, compile_filter, sort_records, unknown_keys
    from .reading.metricnames import best_of, direction, main_metrics
    from .reading.records import RunRecord, RunView, read_record, settle_status
    from .reading.scanner import find_moved, scan
    from .reading.tail import MetricsTail, TailReader
    from .reading.textcodec import read_last_lines
    from .reading.textsafe import clean_block, clean_field, clean_line
    from .writer.run import Run
    from .writer.start import NullRun, init


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'runyard' has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
