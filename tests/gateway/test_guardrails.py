"""Guardrails: PII precision / recall per kind on a labelled sample, keyword blocking, masking
that keeps everything else, and config errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from extmodels_integrations._exceptions import ConfigurationError
from extmodels_integrations.gateway._guardrails import Guardrails
from extmodels_integrations.gateway._pii import KINDS, find_pii

SAMPLES = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "pii_samples.jsonl").read_text().splitlines()
]


@pytest.mark.parametrize("kind", KINDS)
def test_pii_precision_and_recall_per_kind(kind: str) -> None:
    tp = fp = fn = 0
    for sample in SAMPLES:
        expected = sample["kinds"].count(kind)
        found = sum(1 for f in find_pii(sample["text"]) if f.kind == kind)
        tp += min(expected, found)
        fp += max(0, found - expected)
        fn += max(0, expected - found)
    assert tp >= 4, f"the sample has too few {kind} positives"
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.95 and recall >= 0.95, (kind, precision, recall)


def test_sample_is_large_and_has_tricky_negatives() -> None:
    assert len(SAMPLES) >= 60
    assert sum(1 for s in SAMPLES if not s["kinds"]) >= 25


def test_keywords_block_as_whole_words_case_insensitively() -> None:
    rails = Guardrails.from_config({"input": {"invalid_keywords": ["Project X", "secret"]}})
    assert rails.enabled
    blocked = rails.check_input(["hello", "tell me about project x"])
    assert blocked.blocked and blocked.reason == "input contains a blocked keyword: 'Project X'"
    assert not rails.check_input(["secretary of state"]).blocked
    assert not rails.check_output(["secret"]).blocked  # output has no rules


def test_pii_block_names_the_kind_and_mask_keeps_the_rest() -> None:
    block = Guardrails.from_config({"input": {"pii": {"behavior": "BLOCK"}}})
    result = block.check_input(["mail jane@example.com"])
    assert result.blocked and result.reason == "PII (EMAIL) in input"
    mask = Guardrails.from_config({"output": {"pii": {"behavior": "MASK"}}})
    out = mask.check_output(["Hi Jane, call +1 415 555 2671.", "order 123456789012, ok?"])
    assert not out.blocked
    assert out.texts == ["Hi Jane, call [PHONE].", "order 123456789012, ok?"]


def test_no_guardrails_is_disabled() -> None:
    assert not Guardrails.from_config(None).enabled
    assert not Guardrails.from_config({"input": {"pii": {"behavior": "NONE"}}}).enabled


@pytest.mark.parametrize(
    ("block", "field"),
    [
        ({"input": {"valid_topics": ["cooking"]}}, "valid_topics: topic restriction needs"),
        ({"output": {"safety": True}}, "safety: the safety filter needs"),
        ({"input": {"pii": {"behavior": "REDACT"}}}, "pii.behavior"),
        ({"input": {"keywords": ["x"]}}, "input.keywords: unknown field"),
        ({"inputs": {}}, "inputs: unknown field"),
        ({"input": {"invalid_keywords": "x"}}, "invalid_keywords"),
    ],
)
def test_config_errors_name_the_field(block: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigurationError, match=field):
        Guardrails.from_config(block)
