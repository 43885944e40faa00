"""The instructor's grading pipeline, run by the ``autograder`` command (``cli``) in a trusted process.

Its steps, in the order of a term:

1. ``release``  — generate the student versions (and release them to an exchange);
2. ``collect``  — bring submissions in from an LMS download or the exchange;
3. ``grade``    — for each new or changed submission (``autograde``, in worker processes,
   or ``cluster``, on a Dask cluster's workers): draw the hidden tests' inputs in this
   process (``secret_inputs``) → in the worker, run the notebook in the
   sandbox (``execute``, ``sandbox``) → judge the hidden tests outside
   (``judge``, ``compare``) → read the scores (``scores``); then ``record`` them,
   with the late penalty (``lateness``; ``extend`` gives a student a due date of their own);
4. grading by hand — written answers, in nbgrader's ``formgrader`` or a spreadsheet (``manual``);
5. ``feedback`` — an HTML page per student;
6. ``export``   — grades for a spreadsheet and for Canvas; ``report`` — the class's results;
7. ``publish``  — the student edition, for the course's public repository.

Shared by the steps: ``course_folder`` (where everything lives), ``database`` (the
gradebook's URL: SQLite or PostgreSQL), ``results`` (the data steps hand each other),
``limits`` (what a submission may use), ``cases`` (the hidden tests' random inputs),
``sanitize`` (test cells restored).
"""
