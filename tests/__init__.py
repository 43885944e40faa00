"""The test suite, importable as a package from the repository root (``tests.support``)."""
