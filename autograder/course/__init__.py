"""What the course teaches, as code: run by the book, the graders and the tests, never by student code.

* ``api``       — the exercise API's vocabulary (names of gates, params, outputs, functions per assignment);
* ``reference`` — the NumPy reference implementation every student function is graded against;
* ``long_gap``  — the long-gap sequence task of the chapters and of ex4.
"""
