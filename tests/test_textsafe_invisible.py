"""Invisible format characters from a run's files never reach the screen: they reorder or shift what follows."""

from runyard import clean_field, clean_line


def test_a_right_to_left_override_cannot_disguise_a_name():
    assert clean_field("evil\u202egnp.exe") == "evilgnp.exe"  # shown in its real order
    assert clean_line("step 3 \u2066loss=1\u2069 \u202eok") == "step 3 loss=1 ok"


def test_zero_width_characters_that_shift_columns_are_taken_out():
    assert clean_field("a\u200bb\u200dc\ufeffd\u00ade") == "abcde"
    assert clean_field("plain name") == "plain name"
    assert clean_field("été 日本") == "été 日本"  # printable text of any script is kept as it is
