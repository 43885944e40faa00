"""The long-gap task: shapes, seeds, and that only the clue decides the label."""

import subprocess
import sys

import numpy as np
import pytest

from autograder.course.long_gap import LABELS, N_CLASSES, N_FEATURES, VOCAB, decode, make_long_gap_data, to_sentence

# Written out by hand from the sentence task, not read from the module.
WEATHER_OF_PLACE = {
    "Quebec": "cold", "Norway": "cold", "Yukon": "cold",
    "Egypt": "hot", "Sahara": "hot", "Arizona": "hot",
    "Ireland": "wet", "Scotland": "wet", "Seattle": "wet",
    "Atacama": "dry", "Nevada": "dry", "Gobi": "dry",
}


def test_shapes_and_types():
    x, y = make_long_gap_data(5, gap=7, seed=0)
    assert x.shape == (5, 9, N_FEATURES) and x.dtype == np.float32
    assert y.shape == (5,) and np.issubdtype(y.dtype, np.integer)
    assert set(y) <= set(range(N_CLASSES))


def test_gap_zero_is_clue_then_question():
    x, y = make_long_gap_data(3, gap=0, seed=1, noise=0.0)
    assert x.shape == (3, 2, N_FEATURES)
    assert all(words[1] == "weather" for words in decode(x))


@pytest.mark.parametrize("gap", [-1, 2.5, "3"])
def test_bad_gap_is_refused_in_one_line(gap):
    with pytest.raises((ValueError, TypeError)) as error:
        make_long_gap_data(4, gap=gap, seed=0)
    assert "\n" not in str(error.value)


def test_same_seed_same_data_other_seed_other_data():
    x1, y1 = make_long_gap_data(50, gap=10, seed=3)
    x2, y2 = make_long_gap_data(50, gap=10, seed=3)
    x3, y3 = make_long_gap_data(50, gap=10, seed=4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3) and not np.array_equal(y1, y3)


def test_clean_sequences_are_clue_fillers_question():
    x, y = make_long_gap_data(200, gap=6, seed=5, noise=0.0)
    np.testing.assert_array_equal(x.sum(axis=-1), 1.0)  # exactly one word per step
    assert set(np.unique(x)) == {0.0, 1.0}
    for words, label in zip(decode(x), y):
        assert LABELS[label] == WEATHER_OF_PLACE[words[0]]
        assert words[-1] == "weather"
        assert not set(words[1:-1]) & (set(WEATHER_OF_PLACE) | {"weather"})


def test_classes_and_places_are_balanced():
    x, y = make_long_gap_data(24_000, gap=1, seed=6, noise=0.0)
    class_share = np.bincount(y, minlength=N_CLASSES) / len(y)
    np.testing.assert_allclose(class_share, 1 / 4, atol=0.015)  # 3 places per class
    places, counts = np.unique([words[0] for words in decode(x)], return_counts=True)
    assert set(places) == set(WEATHER_OF_PLACE)
    np.testing.assert_allclose(counts / len(y), 1 / 12, atol=0.01)


def test_noise_has_the_requested_spread():
    clean, _ = make_long_gap_data(400, gap=20, seed=7, noise=0.0)
    noisy, _ = make_long_gap_data(400, gap=20, seed=7, noise=0.3)
    residual = noisy - clean  # the same seed draws the same words first
    assert abs(residual.mean()) < 0.003
    assert abs(residual.std() - 0.3) < 0.003


def _linear_readout_accuracy(x_train, y_train, x_test, y_test):
    """Least-squares one-vs-all classifier on the flattened sequences."""
    def design(x):
        return np.hstack([x.reshape(len(x), -1), np.ones((len(x), 1))])
    targets = np.eye(N_CLASSES)[y_train]
    weights, *_ = np.linalg.lstsq(design(x_train), targets, rcond=None)
    return np.mean((design(x_test) @ weights).argmax(axis=1) == y_test)


def test_only_the_clue_carries_the_label():
    """A linear readout of the whole sequence is perfect; shuffle the clues
    between sequences (keeping the labels) and it falls to chance, 1/4."""
    x, y = make_long_gap_data(8000, gap=4, seed=8, noise=0.0)
    x_train, y_train, x_test, y_test = x[:6000], y[:6000], x[6000:], y[6000:]
    assert _linear_readout_accuracy(x_train, y_train, x_test, y_test) == 1.0

    shuffled = x.copy()
    shuffled[:, 0] = x[np.random.default_rng(0).permutation(len(x)), 0]
    accuracy = _linear_readout_accuracy(shuffled[:6000], y_train, shuffled[6000:], y_test)
    assert abs(accuracy - 0.25) < 0.04  # 2000 test sequences: chance +- 4 standard errors


def test_decode_and_sentence_by_hand():
    ids = [VOCAB.index(w) for w in ("Quebec", "we", "often", "weather")]
    one_hot = np.eye(N_FEATURES, dtype=np.float32)[ids]
    words = decode(one_hot)
    assert words == ["Quebec", "we", "often", "weather"]
    assert to_sentence(words, label=0) == "Quebec we often | weather -> cold"
    assert decode(one_hot[None]) == [words]


def test_long_gaps_are_shortened_for_display():
    words = ["Egypt"] + ["and"] * 30 + ["weather"]
    line = to_sentence(words, max_fillers=3)
    assert line == "Egypt and and and ... (30 fillers) | weather"


def test_importing_the_task_does_not_import_tensorflow():
    code = "import sys, autograder.course.long_gap; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
