"""The course's long-gap task: remember one word across a gap of noise.

A synthetic version of the sentence "I live in Quebec, in northern Canada, ...
<many words> ... the weather is generally ... cold". Every sequence is

    step 0            the clue: a place word (Quebec, Egypt, ...)
    steps 1 .. gap    fillers: random words that say nothing about the answer
    step gap + 1      the question word "weather"

and its label is the weather word of the clue's place (cold, hot, wet, dry).
Only the clue decides the label, so a model can answer only by carrying the
clue across ``gap`` steps. Each word is a one-hot vector over ``VOCAB``, and
Gaussian noise of standard deviation ``noise`` is added to every feature at
every step: without it a plain RNN can learn to ignore the fillers exactly and
the gap costs it nothing; with it, a memory that simply adds its inputs up
drowns the clue (the "latching" problem of Bengio et al., 1994).

Shapes: ``x`` is ``(n, gap + 2, N_FEATURES)`` float32, ``y`` is ``(n,)`` int64
with values in ``range(N_CLASSES)``, ``LABELS[y]`` is the answer word.
Only NumPy is needed: the Keras chapter and exercise import this module too.

Training recipe for exercise ex4 (``reference.build_model`` as it is: Adam,
learning rate 1e-2, clipnorm 1.0; Keras' default gate biases)::

    keras.utils.set_random_seed(0)
    x_train, y_train = make_long_gap_data(2000, gap=10, seed=1)
    x_test, y_test = make_long_gap_data(500, gap=10, seed=2)
    model = build_model(12, N_FEATURES, N_CLASSES, units=16)
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    # pass: test accuracy >= 0.8 (chance is 0.25)

Measured on the course's shared 2-core machine: test accuracy 90.4%, 94.8%
and 95.8% for Keras seeds 0, 1, 2 (92.4% to 96.0% for seeds 3 to 6), about
2.5 s of training per run after a 2 s import. Longer gaps need more than this
recipe: at gap 20 the same model missed on 2 of 5 seeds (43% and 58%); the
Keras chapter bridges 100 steps with a forget-gate bias of 5 and an input-gate
bias of -3.
"""

import numpy as np

# The answer each place stands for; the order of LABELS fixes the class numbers.
CLUES = {
    "cold": ("Quebec", "Norway", "Yukon"),
    "hot": ("Egypt", "Sahara", "Arizona"),
    "wet": ("Ireland", "Scotland", "Seattle"),
    "dry": ("Atacama", "Nevada", "Gobi"),
}
LABELS = tuple(CLUES)
CLUE_WORDS = tuple(place for label in LABELS for place in CLUES[label])
FILLERS = ("and", "we", "often", "go", "to", "the", "lake", "with", "friends",
           "in", "summer", "people", "speak", "French", "there")
QUESTION = "weather"
VOCAB = CLUE_WORDS + FILLERS + (QUESTION,)
N_FEATURES = len(VOCAB)
N_CLASSES = len(LABELS)
NOISE = 0.2  # default noise level: see the module docstring and the Keras chapter

_CLUE_LABEL = np.repeat(np.arange(N_CLASSES), [len(CLUES[label]) for label in LABELS])
_FIRST_FILLER = len(CLUE_WORDS)
_QUESTION_ID = VOCAB.index(QUESTION)


def sample_sentences(n, gap, rng):
    """Draw n sentences as word ids, and their labels.

    n: number of sentences; gap: number of fillers between clue and question;
    rng: a numpy Generator. Returns (tokens, y): tokens (n, gap + 2) int64 ids
    into VOCAB, y (n,) int64 labels, the class of each sentence's clue.
    """
    if int(gap) != gap or gap < 0:
        raise ValueError(f"gap must be a whole number >= 0, not {gap!r}")
    clue = rng.integers(0, len(CLUE_WORDS), n)
    fillers = rng.integers(_FIRST_FILLER, _FIRST_FILLER + len(FILLERS), (n, int(gap)))
    question = np.full((n, 1), _QUESTION_ID)
    tokens = np.concatenate([clue[:, None], fillers, question], axis=1)
    return tokens, _CLUE_LABEL[clue]


def encode(tokens, noise, rng):
    """One-hot word ids and add Gaussian noise to every feature.

    tokens: (n, T) ids into VOCAB; noise: standard deviation (0 for clean
    one-hots); rng: a numpy Generator. Returns x: (n, T, N_FEATURES) float32.
    """
    x = np.eye(N_FEATURES, dtype=np.float32)[tokens]
    if noise:
        x += (noise * rng.standard_normal(x.shape)).astype(np.float32)
    return x


def make_long_gap_data(n, gap, seed, noise=NOISE):
    """A data set of the long-gap task, the same for the same arguments.

    n: number of sequences; gap: fillers between clue and question, so the
    sequences have T = gap + 2 steps; seed: an int fixing every draw;
    noise: standard deviation of the Gaussian noise on every feature.
    Returns (x, y): x (n, gap + 2, N_FEATURES) float32, y (n,) int64 in
    range(N_CLASSES).
    """
    rng = np.random.default_rng(seed)
    tokens, y = sample_sentences(n, gap, rng)
    return encode(tokens, noise, rng), y


def decode(x):
    """The words of encoded sequences: the strongest feature at every step.

    x: (n, T, N_FEATURES) or one sequence (T, N_FEATURES). Returns a list of
    n lists of T words (or one list for one sequence). Exact for noise 0;
    with noise, a step whose noise outgrows its word decodes wrongly.
    """
    ids = np.asarray(x).argmax(axis=-1)
    if ids.ndim == 1:
        return [VOCAB[i] for i in ids]
    return [[VOCAB[i] for i in row] for row in ids]


def to_sentence(words, label=None, max_fillers=8):
    """A readable line for one decoded sequence, long gaps shortened.

    words: a list of words as returned by decode; label: the class number to
    show as the answer, or None; max_fillers: fillers shown before "...".
    """
    clue, fillers, question = words[0], words[1:-1], words[-1]
    if len(fillers) > max_fillers:
        fillers = fillers[:max_fillers] + [f"... ({len(words) - 2} fillers)"]
    line = " ".join([clue, *fillers, "|", question])
    return line if label is None else f"{line} -> {LABELS[label]}"
