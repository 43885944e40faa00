"""The LSTM course's grading package.

* ``reference`` — the NumPy reference implementation of the exercise API;
* ``nbgrader_config.py`` — the course's nbgrader configuration.

Importing this package must not import TensorFlow: notebooks that do not use
Keras are graded with NumPy alone, and fast.
"""
