"""Support code the tests share: test data, helpers and stand-in servers (never collected as tests).

Fixtures live in ``tests/conftest.py``; the plain code they and the tests need lives here, so no
test module imports another test module (or the conftest).
"""
