"""A persistent HTTP client on a real driftwatch server that checks every answer to a hostile OTLP
request, and the hypothesis loop that feeds it (shared by the suite and ``bench/fuzz_ingest.py``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from tests.reliability.hostile_bodies import PROTOBUF, HostileRequest
from tests.support.otlp import export_request, make_span


@dataclass
class FuzzTarget:
    """A persistent client on a real server, checking every answer it gets."""

    client: httpx.Client
    statuses: Counter[int] = field(default_factory=Counter)

    def send(self, request: HostileRequest) -> None:
        response = self.client.post(request.path, content=request.body, headers=request.headers)
        self.statuses[response.status_code] += 1
        assert response.status_code < 500, f"{response.status_code}: {response.content[:500]!r}"
        assert response.status_code in (200, 400, 413, 415), response.status_code
        if response.status_code == 200:
            _assert_otlp_response(request, response)
        else:
            assert response.content, "an error answer says what was wrong"

    def still_serves(self) -> None:
        body = export_request([make_span()]).SerializeToString()
        response = self.client.post("/v1/traces", content=body, headers={"content-type": PROTOBUF})
        assert response.status_code == 200
        assert not ExportTraceServiceResponse.FromString(response.content).HasField("partial_success")


def _assert_otlp_response(request: HostileRequest, response: httpx.Response) -> None:
    if response.headers["content-type"] == PROTOBUF:
        answer = ExportTraceServiceResponse if request.path == "/v1/traces" else ExportLogsServiceResponse
        answer.FromString(response.content)
    else:
        assert isinstance(response.json(), dict)


def send_examples(target: FuzzTarget, strategy: st.SearchStrategy[HostileRequest], examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,  # nothing written to the working tree; a failure prints its reproduction blob
        suppress_health_check=list(HealthCheck),  # large, slow-to-build bodies are the point here
        print_blob=True,
    )
    @given(strategy)
    def send(request: HostileRequest) -> None:
        target.send(request)

    send()
