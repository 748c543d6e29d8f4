"""The provider conformance suite: every provider x task x (plain, stream, tools) case under
``tests/providers/cases``, each through the sync and the async client methods."""

from __future__ import annotations

import pytest

from tests.support.harness import Case, FakeProvider, Raises, check_exchanges, collect_cases

CASES = collect_cases()


def test_the_suite_covers_every_provider_and_task() -> None:
    from extmodels_integrations._config import PROVIDER_TASKS

    assert CASES, "no conformance cases were collected"
    # openai and databricks-model-serving have their own table in test_openai_family.py.
    wanted = (
        {(provider, task) for provider, tasks in PROVIDER_TASKS.items() for task in tasks}
        - {("openai", t) for t in PROVIDER_TASKS["openai"]}
        - {("databricks-model-serving", t) for t in PROVIDER_TASKS["databricks-model-serving"]}
    )
    have = {
        (c.target["external_model"]["provider"], c.target["external_model"]["task"])
        for c in CASES
        if "external_model" in c.target
    }
    missing = sorted(wanted - have)
    assert not missing, f"provider/task pairs without a conformance case: {missing}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_conformance(run, connect, case: Case) -> None:
    provider = FakeProvider(case)
    client = connect(provider, **case.target)
    if isinstance(case.expected, Raises):
        with pytest.raises(case.expected.type, match=case.expected.match) as caught:
            await run(client, case.call, case.request)
        for name, value in case.expected.attrs.items():
            assert getattr(caught.value, name) == value, name
    else:
        assert await run(client, case.call, case.request) == case.expected
    check_exchanges(case, provider)
