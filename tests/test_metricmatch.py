"""Metric names matched across runs: by case and separators built in, by aliases only where a user says so."""

from __future__ import annotations

import pytest

from runyard import load_aliases, match_metrics, metric_key, parse_alias, read_aliases


def test_the_four_spellings_of_one_metric_are_one_key():
    assert {metric_key(n) for n in ("val_loss", "val/loss", "Val-Loss", "val.loss")} == {"val/loss"}
    match = match_metrics({"a": ["val_loss"], "b": ["val/loss"], "c": ["Val-Loss"], "d": ["val.loss"]})
    assert list(match.groups) == ["val_loss"]  # of equals, the first run's spelling names it
    assert match.groups["val_loss"] == {"a": "val_loss", "b": "val/loss", "c": "Val-Loss", "d": "val.loss"}
    assert match.matched == [("val_loss", ["val/loss", "Val-Loss", "val.loss"])]
    assert match.conflicts == []


def test_case_and_separators_only_not_word_order_or_synonyms():
    match = match_metrics({"a": ["TRAIN  Loss", "Loss/val", "eval_loss", "acc"], "b": ["train__loss", "val/loss",
                                                                                       "accuracy"]})
    assert match.groups["TRAIN  Loss"] == {"a": "TRAIN  Loss", "b": "train__loss"}
    for name in ("Loss/val", "eval_loss", "val/loss", "acc", "accuracy"):  # a guess would be wrong somewhere
        assert len(match.groups[name]) == 1


def test_the_canonical_name_is_the_spelling_most_runs_use():
    match = match_metrics({"a": ["val_loss"], "b": ["val/loss"], "c": ["val/loss"]})
    assert list(match.groups) == ["val/loss"]
    assert match.matched == [("val/loss", ["val_loss"])]
    assert match.canonical_of("a", "val_loss") == "val/loss"
    assert match.canonical_of("a", "nope") is None


def test_aliases_line_up_what_only_a_user_knows_is_one_metric():
    names = {"wandb": ["val/loss"], "tb": ["Loss/val"], "hf": ["eval_loss"], "csv": ["val_loss"],
             "other": ["loss/Validation"]}
    match = match_metrics(names, {"val/loss": ["Loss/val", "loss/validation", "eval_loss"]})
    assert match.groups == {"val/loss": {"wandb": "val/loss", "tb": "Loss/val", "hf": "eval_loss",
                                         "csv": "val_loss", "other": "loss/Validation"}}
    assert match.matched == [("val/loss", ["Loss/val", "eval_loss", "val_loss", "loss/Validation"])]
    assert match.notes() == ["val/loss ← Loss/val, eval_loss, val_loss, loss/Validation"]
    # the alias table's spelling names the metric even where no run spells it so
    assert list(match_metrics({"tb": ["Loss/val"]}, {"val/loss": ["Loss/val"]}).groups) == ["val/loss"]


def test_two_names_of_one_run_are_never_merged():
    match = match_metrics({"a": ["val_loss", "val/loss"], "b": ["val/loss"], "c": ["Val-Loss"]})
    # run a keeps both; its name spelled as the others' canonical one joins them, the other stays apart
    assert match.groups["val/loss"] == {"b": "val/loss", "a": "val/loss", "c": "Val-Loss"}
    assert match.groups["val_loss"] == {"a": "val_loss"}
    assert match.conflicts == [("a", ["val_loss", "val/loss"])]
    assert "a: val_loss, val/loss kept apart (one run logs them all)" in match.notes()


def test_an_alias_that_would_merge_two_names_of_one_run_gives_way():
    match = match_metrics({"a": ["val_loss", "eval_loss"], "b": ["val/loss"]}, {"val/loss": ["eval_loss"]})
    assert match.groups["val/loss"] == {"b": "val/loss", "a": "val_loss"}  # by key, the closer match
    assert match.groups["eval_loss"] == {"a": "eval_loss"}
    assert match.conflicts == [("a", ["val_loss", "eval_loss"])]


def test_a_run_whose_names_all_collide_keeps_each():
    match = match_metrics({"a": ["Val-Loss", "val.loss"]})
    assert match.groups == {"Val-Loss": {"a": "Val-Loss"}, "val.loss": {"a": "val.loss"}}


def test_alias_conflicts_are_reported_not_guessed():
    match = match_metrics({"a": ["x"]}, {"val/loss": ["eval_loss"], "eval/loss": ["dev_loss"],
                                         "test/loss": ["eval_loss"]})
    assert any("'eval_loss' of 'test/loss' is already one of 'val/loss'" in p for p in match.problems)
    assert any("'eval/loss' is itself an alias of 'val/loss'" in p for p in match.problems)


def test_resolve_takes_any_spelling_and_says_when_it_is_ambiguous():
    match = match_metrics({"a": ["val_loss", "train/loss"], "b": ["Val-Loss", "Loss/val"]},
                          {"val/loss": ["Loss/val"]})
    assert match.resolve("val/loss") == "val/loss"
    assert match.resolve("VAL.LOSS") == "val/loss"
    assert match.resolve("Train_Loss") == "train/loss"
    assert match.resolve("nothing") is None
    assert match.candidates("nothing") == []


def test_aliases_from_runyard_toml(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home"))
    (tmp_path / "runyard.toml").write_text(
        '[metrics]\n"val/acc" = "max"\n\n[aliases]\n"val/loss" = ["Loss/val", "loss/validation", "eval_loss"]\n'
        '"val/acc" = "Accuracy/val"\n', encoding="utf-8")
    assert load_aliases(tmp_path) == {"val/loss": ["Loss/val", "loss/validation", "eval_loss"],
                                      "val/acc": ["Accuracy/val"]}
    home = tmp_path / "home" / "runyard"
    home.mkdir(parents=True)
    (home / "runyard.toml").write_text('[aliases]\n"val/loss" = ["mine"]\n"bleu" = ["BLEU/test"]\n')
    assert load_aliases(tmp_path)["val/loss"] == ["Loss/val", "loss/validation", "eval_loss"]  # the root's wins
    assert load_aliases(tmp_path)["bleu"] == ["BLEU/test"]
    (tmp_path / "runyard.toml").write_text('[aliases]\n"val/loss" = 3\n')
    aliases, problems = read_aliases(tmp_path)
    assert "val/loss" in aliases and aliases["val/loss"] == ["mine"]
    assert problems and "must be a list of metric names" in problems[0]
    (tmp_path / "runyard.toml").write_text('[aliases\n')
    assert read_aliases(tmp_path)[1]


def test_parse_alias_as_given_on_the_command_line():
    assert parse_alias("val/loss=Loss/val, eval_loss") == ("val/loss", ["Loss/val", "eval_loss"])
    with pytest.raises(ValueError, match="METRIC=OTHER"):
        parse_alias("val/loss")
