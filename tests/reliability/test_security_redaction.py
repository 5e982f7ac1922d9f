"""Content redaction by pattern (``DRIFTWATCH_REDACT_PATTERNS``) on every path where content enters the
store: OTLP spans and OTLP log content events over real HTTP (protobuf and JSON), and the Langfuse
importer (command and scheduled job), on SQLite and PostgreSQL; an unusable pattern stops start-up."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner
from google.protobuf.message import Message
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from driftwatch.cli.root import main
from driftwatch.config import Policy, Settings
from driftwatch.config.redaction import MAX_PATTERN_LENGTH
from driftwatch.db.models import Call
from driftwatch.ingest.redaction import REDACTED, Redactor
from driftwatch.scheduler.jobs import JobContext, run_job
from tests.conftest import StartServer
from tests.fakes.langfuse_server import PUBLIC_KEY, SECRET_KEY, FakeLangfuseServer
from tests.importers.support import finished
from tests.reliability.store_contents import stored_text
from tests.support.otlp import (
    export_request,
    llm_attributes,
    logs_request,
    make_log_record,
    make_span,
    to_otlp_json,
)
from tests.support.processes import run_to_end
from tests.support.server import ServerThread

pytestmark = pytest.mark.timeout(90)

EMAIL, API_KEY = "jane.doe@example.com", "sk-live-4f9a8b7c6d5e"
PATTERNS = (r"[\w.+-]+@[\w-]+(?:\.[\w-]+)++", r"sk-live-[0-9a-f]++")
SECRETS = (EMAIL, API_KEY, "jane.doe", "4f9a8b7c6d5e")
ENCODINGS = ["protobuf", "json"]


def _body(request: Message, encoding: str) -> tuple[bytes, dict[str, str]]:
    if encoding == "json":
        return to_otlp_json(request), {"content-type": "application/json"}
    return request.SerializeToString(), {"content-type": "application/x-protobuf"}


def _post(server: ServerThread, path: str, request: Message, encoding: str) -> None:
    body, headers = _body(request, encoding)
    response = httpx.post(f"{server.base_url}{path}", content=body, headers=headers)
    assert response.status_code == 200, response.text


def _call(engine: Engine, span: Span) -> Call:
    with Session(engine) as session:
        return session.scalars(select(Call).where(Call.span_id == span.span_id.hex())).one()


def _assert_no_secret_stored(engine: Engine) -> None:
    everything = stored_text(engine)
    for secret in SECRETS:
        assert secret not in everything


@pytest.fixture
def redacting(start_server: StartServer) -> ServerThread:
    return start_server(redact_patterns=PATTERNS)


def _secret_span() -> Span:
    attributes = llm_attributes(prompt=f"Mail {EMAIL} the key {API_KEY}, please.")
    attributes["gen_ai.system_instructions"] = orjson.dumps(
        [{"type": "text", "content": f"You act for {EMAIL}."}]
    ).decode()
    tool_call = {"type": "tool_call", "name": "send_mail", "arguments": {"to": EMAIL, "token": API_KEY}}
    attributes["gen_ai.output.messages"] = orjson.dumps(
        [{"role": "assistant", "parts": [tool_call]}]
    ).decode()
    return make_span(attributes)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_span_content_is_redacted_before_it_is_stored(
    redacting: ServerThread, engine: Engine, encoding: str
) -> None:
    span = _secret_span()

    _post(redacting, "/v1/traces", export_request([span]), encoding)

    call = _call(engine, span)
    assert call.prompt is not None and call.completion is not None
    assert orjson.loads(call.prompt) == [
        {"role": "system", "content": f"You act for {REDACTED}."},
        {"role": "user", "content": f"Mail {REDACTED} the key {REDACTED}, please."},
    ]
    tool_call = orjson.loads(call.completion)[0]
    assert tool_call["name"] == "send_mail"
    assert tool_call["arguments"] == {"to": REDACTED, "token": REDACTED}
    _assert_no_secret_stored(engine)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_log_content_events_are_redacted_while_they_wait_and_once_attached(
    redacting: ServerThread, engine: Engine, encoding: str
) -> None:
    attributes = llm_attributes()
    del attributes["gen_ai.input.messages"], attributes["gen_ai.output.messages"]
    span = make_span(attributes)
    details = {
        "gen_ai.input.messages": orjson.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": f"I am {EMAIL}"}]}]
        ).decode(),
        "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": API_KEY}]}],
    }
    records = [
        make_log_record("gen_ai.system.message", {"content": f"Key: {API_KEY}"}, span=span),
        make_log_record("gen_ai.client.inference.operation.details", span=span, attributes=details),
        make_log_record(
            "gen_ai.choice", {"index": 0, "message": {"role": "assistant", "content": EMAIL}}, span=span
        ),
    ]

    _post(redacting, "/v1/logs", logs_request(records), encoding)  # before the call: the events wait
    _assert_no_secret_stored(engine)
    _post(redacting, "/v1/traces", export_request([span]), encoding)

    call = _call(engine, span)
    assert call.prompt is not None and REDACTED in call.prompt  # which event wins is content.py's rule
    assert call.completion == REDACTED
    _assert_no_secret_stored(engine)


def test_without_patterns_content_is_stored_as_sent(server: ServerThread, engine: Engine) -> None:
    span = make_span(llm_attributes(prompt=f"Mail {EMAIL}"))

    _post(server, "/v1/traces", export_request([span]), "protobuf")

    assert EMAIL in (_call(engine, span).prompt or "")


@pytest.fixture
def secret_langfuse() -> Iterator[FakeLangfuseServer]:
    now = datetime.now(UTC)
    with FakeLangfuseServer() as server:
        server.add(
            finished(
                "obs-secret",
                -30,
                base=now,
                input=[{"role": "user", "content": f"Reach me at {EMAIL}"}],
                output=f"Your key is {API_KEY}.",
            )
        )
        yield server


def _langfuse_env(url: str) -> dict[str, str]:
    return {"LANGFUSE_HOST": url, "LANGFUSE_PUBLIC_KEY": PUBLIC_KEY, "LANGFUSE_SECRET_KEY": SECRET_KEY}


def _import_command(database_url: str, langfuse: FakeLangfuseServer, **settings: str) -> None:
    env = {"DRIFTWATCH_DATABASE_URL": database_url, **settings, **_langfuse_env(langfuse.url)}
    result = CliRunner().invoke(main, ["import", "langfuse", "--quiet"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output


def _assert_imported_call_redacted(engine: Engine) -> None:
    with Session(engine) as session:
        call = session.scalars(select(Call)).one()
    assert call.source == "langfuse"
    assert call.prompt is not None
    assert orjson.loads(call.prompt) == [{"role": "user", "content": f"Reach me at {REDACTED}"}]
    assert call.completion == f"Your key is {REDACTED}."
    _assert_no_secret_stored(engine)


def test_the_langfuse_import_command_redacts(
    engine: Engine, database_url: str, secret_langfuse: FakeLangfuseServer
) -> None:
    _import_command(database_url, secret_langfuse, DRIFTWATCH_REDACT_PATTERNS=orjson.dumps(PATTERNS).decode())

    _assert_imported_call_redacted(engine)


def test_with_capture_off_the_langfuse_import_command_stores_no_content(
    engine: Engine, database_url: str, secret_langfuse: FakeLangfuseServer
) -> None:
    _import_command(database_url, secret_langfuse, DRIFTWATCH_CAPTURE_CONTENT="false")

    with Session(engine) as session:
        call = session.scalars(select(Call)).one()
    assert (call.prompt, call.completion, call.model) == (None, None, "claude-haiku-4-5")
    _assert_no_secret_stored(engine)


def test_the_scheduled_langfuse_import_redacts(
    engine: Engine, database_url: str, secret_langfuse: FakeLangfuseServer
) -> None:
    settings = Settings(database_url=database_url, redact_patterns=PATTERNS)
    context = JobContext(engine, settings, Policy(), environ=_langfuse_env(secret_langfuse.url))

    assert "imported 1 new calls" in run_job("import-langfuse", context)
    _assert_imported_call_redacted(engine)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ('["ok", "[z-a]"]', "redaction pattern 1 '[z-a]' is not a regular expression: bad character range"),
        ('[""]', "redaction pattern 0 is empty"),
        (orjson.dumps(["a" * (MAX_PATTERN_LENGTH + 1)]).decode(), f"at most {MAX_PATTERN_LENGTH}"),
        (r"\d+", 'error parsing value for field "redact_patterns"'),
    ],
    ids=["bad-range", "empty", "too-long", "not-json"],
)
def test_serve_refuses_an_unusable_pattern_with_the_reason(tmp_path: Path, value: str, problem: str) -> None:
    env = {
        "DRIFTWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DRIFTWATCH_REDACT_PATTERNS": value,
    }

    result = CliRunner().invoke(main, ["serve", "--port", "0"], env=env)

    assert result.exit_code == 1
    assert problem in result.stderr
    assert not (tmp_path / "store.db").exists()  # refused before touching the store


def test_the_serve_process_exits_at_start_up_on_an_invalid_regular_expression(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "DRIFTWATCH_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "DRIFTWATCH_REDACT_PATTERNS": '["(unclosed"]',
    }
    command = [sys.executable, "-m", "driftwatch.cli", "serve", "--port", "0"]

    done = run_to_end(command, 60, env=env)

    assert done.returncode == 1
    assert "redaction pattern 0 '(unclosed' is not a regular expression: missing )" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "store.db").exists()


def test_matches_are_replaced_and_the_rest_kept() -> None:
    redactor = Redactor([r"\d{3}-\d{4}", r"(?i)secret"])

    assert redactor.text("call 555-1234 or SECRET line") == f"call {REDACTED} or {REDACTED} line"
    assert redactor.text("nothing here") == "nothing here"


def test_an_empty_match_replaces_nothing() -> None:
    assert Redactor(["x*"]).text("abxxc") == f"ab{REDACTED}c"


def test_documents_keep_their_structure_and_roles() -> None:
    redactor = Redactor(["user|secret"])
    document = {
        "role": "user",
        "content": "a secret",
        "gen_ai.input.messages": orjson.dumps(
            [{"role": "user", "parts": [{"type": "text", "content": "secret"}]}]
        ).decode(),
        "index": 0,
        "broken": "[not json secret",
    }

    redacted = redactor.document(document)

    assert redacted["role"] == "user"
    assert redacted["content"] == f"a {REDACTED}"
    assert orjson.loads(redacted["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": REDACTED}]}
    ]
    assert redacted["index"] == 0
    assert redacted["broken"] == f"[not json {REDACTED}"


def test_no_patterns_is_a_no_op() -> None:
    document = {"content": "anything"}

    assert Redactor().document(document) is document
    assert not Redactor().active
