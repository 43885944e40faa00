"""The mailbox between a student's kernel and the trusted grader.

When the course's grader runs a notebook, the hidden tests must not judge
inside the student's kernel, where the student's code could rewrite them. So
``check_function`` (in ``check``) only *runs* the student's function there:

* the **inbox** is a read-only file the grader writes before the kernel
  starts, holding the arguments of every hidden call, drawn from a secret seed;
  the kernel finds it through the environment variable ``AUTOGRADER_INBOX``;
* the **outbox** is the cell's own output stream: each hidden call publishes
  what the function returned as display data of the MIME type ``OUTCOME``,
  which the grader takes out of the notebook as the cell runs, so every
  outcome belongs to the cell that was running when it arrived.

Both directions use one plain-data format: JSON in which arrays are base64
bytes with a dtype and a shape. Decoding is strict and never runs code (no
pickle): whatever a student's kernel sends, the grader gets builtin containers,
numbers, strings and plain ``np.ndarray``; anything else arrives as an
``Opaque`` holding only its type's name. NumPy only: this module is mounted
into the sandbox.
"""

import base64
import json
import math
import os

import numpy as np

INBOX_ENV = "AUTOGRADER_INBOX"
OUTCOME = "application/vnd.autograder.outcome+json"
DTYPES = {np.dtype(t).str for t in ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                    "uint64", "float16", "float32", "float64", "complex64", "complex128")}
MAX_DEPTH = 24           # nesting of containers
MAX_ITEMS = 100_000      # containers' items, all together
MAX_DIMS = 32
MAX_TEXT = 500           # characters kept of an error or warning message


class Opaque:
    """A value that is not plain data (a Keras model, a class of the student's), by its type's name."""

    def __init__(self, description: str):
        self.description = description[:MAX_TEXT]

    def __repr__(self):
        return f"<{self.description}>"


# --- the plain-data format -----------------------------------------------------------

def encode(value, depth=0):
    """A JSON-ready copy of nested containers of arrays, numbers and strings."""
    if depth > MAX_DEPTH:
        return {"opaque": "a structure nested too deeply"}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value).view(np.ndarray)  # a subclass is sent as its raw data
        if array.dtype.str not in DTYPES:
            return {"opaque": f"an array of dtype {array.dtype}"}
        data = base64.b64encode(np.ascontiguousarray(array).tobytes()).decode("ascii")
        packed = {"dtype": array.dtype.str, "shape": list(array.shape), "data": data}
        return {"array" if isinstance(value, np.ndarray) else "scalar": packed}
    if type(value) is tuple:
        return {"tuple": [encode(item, depth + 1) for item in value]}
    if type(value) is list:
        return {"list": [encode(item, depth + 1) for item in value]}
    if type(value) is dict:
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    return {"opaque": f"a {type(value).__name__}"}


class Malformed(ValueError):
    """Data that is not in the mailbox format."""


def decode(data):
    """The value ``encode`` made; raises Malformed for anything else."""
    budget = [MAX_ITEMS]
    return _decode(data, 0, budget)


def _decode(data, depth, budget):
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise Malformed("too large or too deeply nested")
    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is not dict or len(data) != 1:
        raise Malformed(f"unexpected {type(data).__name__}")
    (tag, body), = data.items()
    if tag in ("array", "scalar"):
        array = _decode_array(body)
        return array[()] if tag == "scalar" else array
    if tag in ("tuple", "list"):
        if type(body) is not list:
            raise Malformed(f"a {tag} must be a JSON list")
        items = [_decode(item, depth + 1, budget) for item in body]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        if type(body) is not list or not all(type(p) is list and len(p) == 2 for p in body):
            raise Malformed("a dict must be a list of [key, value] pairs")
        result = {}
        for key, value in body:
            key = _decode(key, depth + 1, budget)
            try:
                hash(key)
            except TypeError:
                raise Malformed("a dict key must be hashable") from None
            result[key] = _decode(value, depth + 1, budget)
        return result
    if tag == "opaque" and type(body) is str:
        return Opaque(body)
    raise Malformed(f"unknown tag {tag[:40]!r}")


def _decode_array(body):
    if type(body) is not dict or set(body) != {"dtype", "shape", "data"}:
        raise Malformed("an array needs exactly dtype, shape and data")
    dtype, shape, data = body["dtype"], body["shape"], body["data"]
    if dtype not in DTYPES:
        raise Malformed(f"dtype {str(dtype)[:20]!r} is not allowed")
    if (type(shape) is not list or len(shape) > MAX_DIMS
            or not all(type(n) is int and 0 <= n for n in shape) or type(data) is not str):
        raise Malformed("bad shape or data")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise Malformed("array data is not base64") from None
    if len(raw) != math.prod(shape) * np.dtype(dtype).itemsize:
        raise Malformed("array data does not match its shape")
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


# --- the kernel's side -----------------------------------------------------------------

def active() -> bool:
    """True when a trusted grader runs this kernel and judges outside it."""
    return bool(os.environ.get(INBOX_ENV))


def inputs(name: str) -> list:
    """The arguments the grader drew for every hidden call of `name`."""
    path = os.environ[INBOX_ENV]
    with open(path) as inbox:
        cases = json.load(inbox).get(name)
    if cases is None:
        raise KeyError(f"the grader has no hidden inputs for {name!r}")
    return decode(cases)


def post(name: str, outcomes: list) -> None:
    """Send the outcomes of one hidden call (dicts of Outcome fields) to the grader."""
    from IPython.display import publish_display_data
    publish_display_data({OUTCOME: {"name": name, "outcomes": encode(outcomes)}})


# --- the grader's side -----------------------------------------------------------------

def write_inbox(path, cases: dict) -> None:
    """Write {function name: [arguments, ...]} for the kernel to read (world-readable, for the sandbox user)."""
    with open(path, "w") as inbox:
        json.dump({name: encode(arguments) for name, arguments in cases.items()}, inbox)
    os.chmod(path, 0o644)


def read_outcome(data) -> tuple[str, list]:
    """(function name, [outcome fields]) from one OUTCOME message; raises Malformed."""
    if type(data) is not dict or set(data) != {"name", "outcomes"} or type(data["name"]) is not str:
        raise Malformed("an outcome message needs exactly name and outcomes")
    outcomes = decode(data["outcomes"])
    if type(outcomes) is not list or not all(type(o) is dict for o in outcomes):
        raise Malformed("outcomes must be a list of dicts")
    return data["name"], [_outcome_fields(o) for o in outcomes]


def _outcome_fields(fields: dict) -> dict:
    """The fields of call.Outcome, checked to be of the right kinds."""
    if set(fields) != {"value", "error", "warnings", "modified", "shared"}:
        raise Malformed("an outcome needs exactly value, error, warnings, modified and shared")
    if type(fields["error"]) is not str:
        raise Malformed("error must be a string")
    texts = fields["warnings"]
    if type(texts) is not list or not all(type(t) is str for t in texts):
        raise Malformed("warnings must be a list of strings")
    modified, shared = fields["modified"], fields["shared"]
    if type(modified) is not list or not all(_is_path(p) for p in modified):
        raise Malformed("modified must be a list of argument paths")
    if type(shared) is not list or not all(type(pair) in (tuple, list) and len(pair) == 2 and _is_path(pair[0])
                                           and _is_path(pair[1], output=True) for pair in shared):
        raise Malformed("shared must be a list of [argument path, output path] pairs")
    return dict(value=fields["value"], error=fields["error"][:MAX_TEXT],
                warnings=[t[:MAX_TEXT] for t in texts[:20]], modified=[tuple(p) for p in modified],
                shared=[(tuple(a), tuple(o)) for a, o in shared])


def _is_path(path, output=False) -> bool:
    """An argument's path starts with its name; an output's may be empty (the value itself) or start at an index."""
    return (type(path) in (tuple, list) and len(path) <= MAX_DEPTH and all(type(k) in (str, int) for k in path)
            and (output or (len(path) > 0 and type(path[0]) is str)))
