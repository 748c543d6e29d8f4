"""Conformance cases, one module per provider; each module exposes ``CASES: list[Case]``.

Modules are discovered by :func:`tests.support.harness.collect_cases`, so adding a provider means
adding a module here and nothing else.
"""
