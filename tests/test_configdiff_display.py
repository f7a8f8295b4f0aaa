"""How a diff's values are shown: numbers aligned on the decimal point, long values folded, missing as —."""

from __future__ import annotations

import math

import pytest

from runyard import MISSING, align_numbers, fold, format_value


def point(text: str) -> int:
    """Where the decimal point falls (or would, for an integer): the column the numbers line up on."""
    stripped = text.rstrip()
    if "." in stripped:
        return stripped.index(".")
    return len(stripped) if "e" not in stripped else stripped.index("e")


def test_floats_share_decimals_and_line_up_on_the_point():
    texts = align_numbers([0.1, 0.25, 3, 12.5, -0.125])
    assert [t.strip() for t in texts] == ["0.100", "0.250", "3", "12.500", "-0.125"]
    assert len({len(t) for t in texts}) == 1
    assert len({point(t) for t in texts}) == 1


def test_tiny_or_huge_numbers_go_scientific_with_the_same_significant_digits():
    texts = align_numbers([1e-5, 2.5e-4, 3e-4])
    assert texts == ["1.0e-05", "2.5e-04", "3.0e-04"]
    assert align_numbers([1e-5, 3e-5]) == ["1e-05", "3e-05"]
    assert [t.strip() for t in align_numbers([1e20, 5.0])] == ["1e+20", "5e+00"]


def test_no_number_is_rounded_into_another():
    texts = align_numbers([0.1, 0.10000001])
    assert texts[0] != texts[1] and float(texts[0]) == 0.1 and float(texts[1]) == 0.10000001


def test_non_numbers_pass_through_and_nan_lines_up():
    texts = align_numbers([0.5, MISSING, "adam", None, True, math.nan, [1, 2]])
    assert texts[1:5] == ["—", "adam", "None", "True"]
    assert texts[6] == "[1, 2]"
    assert texts[5].strip() == "nan" and len(texts[5]) == len(texts[0])
    assert align_numbers([]) == []
    assert align_numbers(["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize(("value", "shown"), [
    (MISSING, "—"), (None, "None"), ("", '""'), (3, "3"), (3.0, "3.0"), (1e-05, "1e-05"), (math.nan, "nan"),
    (-math.inf, "-inf"), (True, "True"), ([1, "a"], "[1, 'a']"), ({"a": 1}, "{'a': 1}"), ("1e-3", "1e-3"),
])
def test_format_value(value, shown):
    assert format_value(value) == shown


def test_fold_breaks_at_spaces_then_separators_then_anywhere():
    text = "python train.py --config configs/small.yaml --lr=3e-4 --batch_size=64"
    lines = fold(text, 20)
    assert lines == ["python train.py", "--config", "configs/small.yaml", "--lr=3e-4", "--batch_size=64"]
    assert fold("a/very/long/path/to/some/file.yaml", 12) == ["a/very/long/", "path/to/", "some/file.", "yaml"]
    assert fold("abcdefghijklmnopqrstuvwxyz", 10) == ["abcdefghij", "klmnopqrst", "uvwxyz"]
    assert fold("short", 10) == ["short"]
    assert fold("two\nlines", 10) == ["two", "lines"]


def test_fold_counts_wide_characters_as_two_columns():
    lines = fold("日本語のテキストです", 7)
    assert all(sum(2 for _ in line) <= 7 for line in lines)
    assert "".join(lines) == "日本語のテキストです"


def test_fold_keeps_every_character_but_the_break_spaces():
    text = "lr=0.001 warmup=100 schedule=cosine_with_restarts decay=0.1"
    for width in range(1, 30):
        lines = fold(text, width)
        assert all(len(line) <= width for line in lines)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")
