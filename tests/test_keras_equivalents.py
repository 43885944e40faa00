"""The student edition's Keras stand-ins equal the course's NumPy reference.

``lstm_course.keras_equivalents`` computes the graded functions the chapters
call with Keras layers and autodiff, so that chapters run where the solutions
are not revealed. Each is compared with ``autograder.course.reference`` (itself
proven equal to Keras and to finite differences) on random shapes, in float64
and float32, and every function a chapter imports has a stand-in.
"""

import re

import numpy as np
import pytest

from autograder.course import reference
from lstm_course import keras_equivalents as keras_side
from tests.support import ROOT

SEEDS = range(3)


def inputs(seed, dtype):
    rng = np.random.default_rng(seed)
    batch, T, n_x, n_h = rng.integers(1, 5), rng.integers(2, 9), rng.integers(1, 5), rng.integers(1, 6)
    draw = lambda *shape: rng.normal(size=shape).astype(dtype)
    params = {key: draw(*{"W": (n_x, n_h), "U": (n_h, n_h), "b": (n_h,)}[key[0]]) for key in reference.PARAM_KEYS}
    return dict(x=draw(batch, T, n_x), h0=draw(batch, n_h), c0=draw(batch, n_h), W_x=draw(n_x, n_h),
                W_h=draw(n_h, n_h) / 2, b=draw(n_h), W_y=draw(n_h, n_x), b_y=draw(n_x), params=params,
                f=rng.uniform(size=(batch, T, n_h)).astype(dtype))


def calls(a):
    """(name, args) of every stand-in, on one draw of inputs."""
    h_seq = reference.rnn_forward(a["x"], a["h0"], a["W_x"], a["W_h"], a["b"])
    gates = a["f"][:, 0], a["f"][:, 1], a["f"][:, -1]
    return [
        ("sigmoid", (np.concatenate([a["x"].ravel(), np.array([-1e4, 1e4], a["x"].dtype)]),)),
        ("rnn_forward", (a["x"], a["h0"], a["W_x"], a["W_h"], a["b"])),
        ("rnn_predict", (h_seq, a["W_y"], a["b_y"], "many_to_one")),
        ("rnn_predict", (h_seq, a["W_y"], a["b_y"], "many_to_many")),
        ("one_to_many", (a["x"][:, 0], a["h0"], a["W_x"], a["W_h"], a["b"], a["W_y"], a["b_y"], 4)),
        ("gradient_norms", (h_seq, a["W_h"])),
        ("cell_state_gradient", (a["f"],)),
        ("update_cell", (a["c0"], *gates)),
        ("update_hidden", (a["c0"], gates[0])),
        ("lstm_cell_forward", (a["x"][:, 0], a["h0"], a["c0"], a["params"])),
        ("lstm_forward", (a["x"], a["h0"], a["c0"], a["params"])),
        ("params_from_keras", reference.keras_from_params(a["params"])),
    ]


def flat(value):
    """Every array in a result (tuple, dict of arrays or the cache), by a path name."""
    if isinstance(value, dict):
        return {f"[{k}]{p}": v for k in value for p, v in flat(value[k]).items()}
    if isinstance(value, tuple):
        return {f"[{i}]{p}": v for i, part in enumerate(value) for p, v in flat(part).items()}
    return {"": np.asarray(value)}


@pytest.mark.parametrize("dtype, tolerance", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("seed", SEEDS)
def test_every_stand_in_equals_the_reference(seed, dtype, tolerance):
    for name, args in calls(inputs(seed, dtype)):
        expected, got = flat(getattr(reference, name)(*args)), flat(getattr(keras_side, name)(*args))
        assert got.keys() == expected.keys(), name
        for path, want in expected.items():
            assert got[path].shape == want.shape and got[path].dtype == want.dtype, f"{name}{path}"
            scale = max(1.0, float(np.abs(want).max(initial=0)))
            assert np.allclose(got[path], want, rtol=0, atol=tolerance * scale), f"{name}{path}"


def test_the_gate_order_is_asked_of_keras_and_is_keras_order():
    assert keras_side.keras_gate_order() == reference.KERAS_GATES


def test_a_wrong_mapping_is_refused_like_the_reference():
    h_seq = np.zeros((1, 2, 3))
    with pytest.raises(ValueError, match="mapping"):
        keras_side.rnn_predict(h_seq, np.zeros((3, 1)), np.zeros(1), "one_to_one")


def test_every_graded_function_a_chapter_imports_has_a_stand_in():
    imported = set()
    for chapter in (ROOT / "book").glob("*.md"):
        for group in re.findall(r"from lstm_course\.graded import (\([^)]*\)|[^\n]*)", chapter.read_text()):
            imported |= {name.strip() for name in group.strip("()").split(",") if name.strip()}
    assert {"rnn_forward", "update_hidden"} <= imported, "the chapters' imports were not read"
    assert {name for name in imported if not hasattr(keras_side, name)} == set()
