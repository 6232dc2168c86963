"""The CLI's table helpers: long reasons are cut at a word, never mid-word, and say that they were cut."""

from suanli.cli.render import clip


def test_a_short_reason_is_shown_whole():
    assert clip("waiting for 2 x A100", 120) == "waiting for 2 x A100"


def test_a_long_reason_is_cut_at_a_word_with_an_ellipsis():
    text = "qd-ai/a100: all 4 nodes busy; expected to start in 3.5 h; qd-sc/dcu: the stack cuda12 is not offered there"
    cut = clip(text, 60)
    assert len(cut) <= 60
    assert cut.endswith("…")
    assert text.startswith(cut[:-1])
    assert text[len(cut) - 1] in " ;,:"  # the cut falls between words


def test_a_single_long_word_is_cut_hard():
    cut = clip("x" * 200, 50)
    assert cut == "x" * 49 + "…"
