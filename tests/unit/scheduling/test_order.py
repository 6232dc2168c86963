"""`lexorder` sorts exactly as `sorted` over (keys..., id) would, ties on every key included."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from suanli.scheduling.order import lexorder

rows_strategy = st.lists(
    st.tuples(st.integers(0, 2), st.sampled_from([0.0, 0.5, 1.5, -2.0]), st.integers(-1, 1)), max_size=60
)


@given(rows_strategy, st.randoms(use_true_random=False))
def test_lexorder_matches_sorted_with_ids_breaking_ties(rows, rng):
    ids = [f"job-{i:03d}" for i in range(len(rows))]
    rng.shuffle(ids)  # ids in no particular order, so ties are broken by them and not by position
    keys = [np.array([r[k] for r in rows], dtype=float) for k in range(3)]
    expected = sorted(range(len(rows)), key=lambda i: (*rows[i], ids[i]))
    assert lexorder(keys, ids).tolist() == expected


def test_rows_tied_on_every_key_go_by_id():
    ids = ["c", "a", "b", "d"]
    keys = [np.array([1, 1, 1, 0]), np.array([5.0, 5.0, 5.0, 9.0])]
    assert lexorder(keys, ids).tolist() == [3, 1, 2, 0]


def test_no_rows():
    assert lexorder([np.array([])], []).tolist() == []
