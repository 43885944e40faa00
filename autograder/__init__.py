"""The LSTM course's code, in three folders by who runs it.

* ``course/``   — what the course teaches: the exercise API's vocabulary, the
  NumPy reference, the long-gap task. The book imports it; it runs no student code.
* ``kernel/``   — what runs inside a student's sandboxed kernel (the only code
  of ours a stranger's code can touch): call the function, post the outcome.
* ``pipeline/`` — the instructor's grading, one step per module:
  collect → run in sandbox → judge → record → feedback → export.

``nbgrader_config.py`` is the course's nbgrader configuration. Importing any of
this must not import TensorFlow: notebooks that do not use Keras are graded with
NumPy alone, and fast.
"""
