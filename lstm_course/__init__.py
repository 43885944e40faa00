"""The student package: what the chapters and the students need, and nothing graded that is still secret.

* ``long_gap`` — the long-gap task of the chapters and of ex4;
* ``api``      — the exercise API's vocabulary (names of gates, params, functions per assignment);
* ``graded``   — the graded functions the chapters call, resolved per assignment (the rule is there).

In the instructor's repository ``long_gap`` is a link to ``autograder/course`` and
``autograder.course.api`` imports ``api``, so each exists once.
"""
