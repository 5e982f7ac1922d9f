"""What every HTTP provider does alike, proven on both wire protocols with the real SDK clients:
retries, backoff, Retry-After, timeouts, final errors, the concurrency limit, the shadow marker."""

from __future__ import annotations

from driftwatch.ingest.shadow_marker import SHADOW_MARKER_HEADER
from driftwatch.shadow.providers.retry import RetryPolicy
from tests.shadow.providers.support import ASK, FAST_RETRY, Backend, complete, failure, outcomes, timed


def test_plain_completion_reports_the_answering_model_and_usage(backend: Backend) -> None:
    with backend.server(reply="positive", response_model="test-model-2025", response_id="resp-1") as server:
        completion = complete(lambda: backend.provider(server))
    assert completion.text == "positive"
    assert completion.model == "test-model-2025"  # as the response says, not as configured
    assert (completion.input_tokens, completion.output_tokens) == (42, 7)
    assert completion.response_id == "resp-1"
    assert completion.latency_seconds > 0
    [request] = server.requests
    assert request.body["model"] == "test-model"
    assert not request.body.get("stream")


def test_every_request_carries_the_shadow_marker(backend: Backend) -> None:
    with backend.server() as server:
        server.fail_next(500)
        complete(lambda: backend.provider(server))
    assert len(server.requests) == 2
    assert all(request.headers[SHADOW_MARKER_HEADER.lower()] == "1" for request in server.requests)


def test_rate_limit_waits_as_long_as_retry_after_says(backend: Backend) -> None:
    with backend.server(reply="late") as server:
        server.fail_next(429, retry_after=0.3)
        completion, seconds = timed(lambda: complete(lambda: backend.provider(server)))
    assert completion.text == "late"
    assert len(server.requests) == 2
    assert 0.3 <= seconds < 2.0  # the backoff alone would have waited a few milliseconds


def test_retry_after_ms_is_honoured_and_capped(backend: Backend) -> None:
    capped = RetryPolicy(max_retries=1, backoff_base_seconds=0.001, retry_after_max_seconds=0.2)
    with backend.server() as server:
        server.fail_next(503, headers={"retry-after-ms": "60000"})
        _, seconds = timed(lambda: complete(lambda: backend.provider(server, retry=capped)))
    assert 0.2 <= seconds < 2.0
    assert len(server.requests) == 2


def test_server_error_then_success(backend: Backend) -> None:
    with backend.server(reply="recovered") as server:
        server.fail_next(500)
        completion = complete(lambda: backend.provider(server))
    assert completion.text == "recovered"
    assert len(server.requests) == 2


def test_persistent_server_error_gives_up_after_max_retries(backend: Backend) -> None:
    with backend.server() as server:
        server.fail_next(500, times=10)
        error = failure(lambda: backend.provider(server))
    assert len(server.requests) == FAST_RETRY.max_retries + 1
    assert error.retryable
    assert error.status_code == 500
    assert f"{backend.kind}/test-model" in str(error)
    assert "3 attempts" in str(error)


def test_timeout_is_retried_then_reported(backend: Backend) -> None:
    with backend.server(delay=1.5) as server:
        error, seconds = timed(lambda: failure(lambda: backend.provider(server, timeout_seconds=0.1)))
    assert error.retryable
    assert "no answer within 0.1 s" in str(error) or "timed out" in str(error)
    assert f"after {FAST_RETRY.max_retries + 1} attempts" in str(error)
    assert seconds < 1.5  # every attempt was cut off, none waited the server out
    # The server may not get to record an attempt its client already gave up on, so only "some".
    assert server.requests


def test_connection_refused_is_retried(backend: Backend) -> None:
    with backend.server() as server:
        base_url = server.base_url
    error = failure(lambda: backend.provider(base_url))  # the server is gone: nothing listens there
    assert error.retryable
    assert error.status_code is None


def test_malformed_body_is_not_asked_again_at_once_but_left_for_a_later_attempt(backend: Backend) -> None:
    with backend.server() as server:
        server.respond_next(200, "{not json")
        error = failure(lambda: backend.provider(server))
    assert len(server.requests) == 1
    assert error.retryable  # the runner tries the sample again on a later tick
    assert "malformed" in str(error)
    assert f"{backend.kind}/test-model" in str(error)


def test_auth_failure_is_not_retried(backend: Backend) -> None:
    with backend.server() as server:
        server.fail_next(401, times=5)
        error = failure(lambda: backend.provider(server))
    assert len(server.requests) == 1
    assert not error.retryable
    assert error.status_code == 401
    assert f"{backend.kind}/test-model: HTTP 401" in str(error)


def test_server_may_forbid_a_retry(backend: Backend) -> None:
    with backend.server() as server:
        server.fail_next(503, headers={"x-should-retry": "false"})
        error = failure(lambda: backend.provider(server))
    assert len(server.requests) == 1
    assert not error.retryable


def test_concurrency_limit_holds_across_parallel_calls(backend: Backend) -> None:
    with backend.server(delay=0.1) as server:
        results = outcomes(lambda: backend.provider(server, max_concurrency=3), *[ASK] * 10)
    assert len(server.requests) == 10
    assert all(not isinstance(result, Exception) for result in results)
    assert server.max_in_flight == 3
