"""The replay provider: recorded answers by prompt key, from a JSONL file or from memory."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from driftwatch.errors import ConfigError
from driftwatch.shadow.providers.base import CompletionRequest, Message
from driftwatch.shadow.providers.replay import RecordedAnswer, ReplayProvider, prompt_key
from tests.shadow.providers.support import complete, failure, outcomes, timed

CONVERSATION = (Message("system", "Classify."), Message("user", "Great phone."))


def _write(path: Path, *records: object) -> Path:
    path.write_text("\n".join(json.dumps(record) for record in records) + "\n\n", encoding="utf-8")
    return path


def test_prompt_key_ignores_surrounding_whitespace_and_role_case_only() -> None:
    key = prompt_key(CONVERSATION)
    assert key == prompt_key((Message(" System", "Classify.\n"), Message("user", "  Great phone.")))
    assert key != prompt_key((Message("user", "Classify."), Message("user", "Great phone.")))
    assert key != prompt_key((Message("system", "Classify. Great phone."),))
    assert key != prompt_key((Message("system", "Classify."), Message("user", "Great  phone.")))
    # Datasets outlive the code that wrote them: the key must never change.
    assert prompt_key((Message("user", "hi"),)) == (
        "897be8e1f0370e7f41788b5b5337627e27486af82d28479ccfbe509c847683b9"
    )


def test_jsonl_answers_by_messages_or_prompt(tmp_path: Path) -> None:
    dataset = _write(
        tmp_path / "answers.jsonl",
        {
            "messages": [
                {"role": "system", "content": "Classify."},
                {"role": "user", "content": "Great phone."},
            ],
            "response": "positive",
            "model": "claude-opus-4-7-20260101",
            "input_tokens": 12,
            "output_tokens": 1,
        },
        {"prompt": "Capital of France?", "response": "Lyon"},
        {"prompt": "Capital of France?", "response": "Paris"},  # a later recording replaces the earlier
    )
    provider = ReplayProvider.from_jsonl(dataset, model="claude-opus-4-7")
    classified = complete(lambda: provider, CompletionRequest(messages=CONVERSATION, json_mode=True))
    capital = complete(lambda: provider, CompletionRequest(messages=(Message("user", "Capital of France?"),)))
    assert len(provider) == 2
    assert (classified.text, classified.model) == ("positive", "claude-opus-4-7-20260101")
    assert (classified.input_tokens, classified.output_tokens) == (12, 1)
    assert (capital.text, capital.model, capital.input_tokens) == ("Paris", "claude-opus-4-7", None)
    assert provider.name == "replay/claude-opus-4-7"


def test_unrecorded_prompt_is_a_final_error() -> None:
    provider = ReplayProvider.from_mapping({"known": "yes"}, model="m")
    error = failure(lambda: provider, CompletionRequest(messages=(Message("user", "unknown"),)))
    assert not error.retryable
    assert "replay/m: no recorded answer" in str(error)


def test_mapping_takes_conversations_and_full_answers() -> None:
    provider = ReplayProvider.from_mapping(
        {CONVERSATION: RecordedAnswer("positive", model="opus", output_tokens=1), "plain": "text"}, model="m"
    )
    answer = complete(lambda: provider, CompletionRequest(messages=CONVERSATION))
    assert (answer.text, answer.model, answer.output_tokens) == ("positive", "opus", 1)
    plain = complete(lambda: provider, CompletionRequest(messages=(Message("user", "plain"),)))
    assert plain.text == "text"


def test_simulated_latency_runs_in_parallel_up_to_the_limit() -> None:
    request = CompletionRequest(messages=(Message("user", "q"),))
    unlimited = ReplayProvider.from_mapping({"q": "a"}, model="m", latency_seconds=0.1)
    limited = ReplayProvider.from_mapping({"q": "a"}, model="m", latency_seconds=0.1, max_concurrency=1)
    results, parallel_seconds = timed(lambda: outcomes(lambda: unlimited, *[request] * 5))
    _, serial_seconds = timed(lambda: outcomes(lambda: limited, *[request] * 3))
    assert all(result.latency_seconds >= 0.1 for result in results if not isinstance(result, Exception))
    assert 0.1 <= parallel_seconds < 0.45  # one after another would take 0.5
    assert serial_seconds >= 0.3


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("not json", "line 2"),
        ('["a list"]', "JSON object"),
        ('{"prompt": "p"}', '"response" must be a string'),
        ('{"response": "r"}', 'needs "messages"'),
        ('{"messages": [{"role": "user"}], "response": "r"}', '"messages" must be'),
        ('{"prompt": "p", "response": "r", "input_tokens": "12"}', '"input_tokens" must be an integer'),
    ],
)
def test_unreadable_dataset_lines_name_file_and_line(tmp_path: Path, line: str, complaint: str) -> None:
    dataset = tmp_path / "bad.jsonl"
    dataset.write_text('{"prompt": "ok", "response": "ok"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.jsonl, line 2") as raised:
        ReplayProvider.from_jsonl(dataset, model="m")
    assert complaint in str(raised.value)


def test_missing_dataset_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.jsonl"):
        ReplayProvider.from_jsonl(tmp_path / "missing.jsonl", model="m")


def test_close_is_harmless() -> None:
    asyncio.run(ReplayProvider({}, model="m").aclose())
