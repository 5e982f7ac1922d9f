from __future__ import annotations

import json

from driftwatch.shadow.providers.tool_calls import ToolCall, completion_text


def test_text_alone_is_unchanged() -> None:
    assert completion_text("positive", []) == "positive"


def test_equal_calls_are_equal_text_whatever_the_key_order() -> None:
    first = completion_text("", [ToolCall.from_wire("f", '{"b": 1, "a": 2}')])
    second = completion_text("", [ToolCall("f", {"a": 2, "b": 1})])
    assert first == second == '[{"arguments": {"a": 2, "b": 1}, "name": "f"}]'


def test_arguments_that_are_not_json_are_kept_as_written() -> None:
    text = completion_text("Calling.", [ToolCall.from_wire("f", "{broken")])
    assert text.split("\n", 1) == ["Calling.", '[{"arguments": "{broken", "name": "f"}]']
    assert json.loads(text.split("\n", 1)[1])[0]["arguments"] == "{broken"
