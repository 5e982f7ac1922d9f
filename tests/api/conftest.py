"""The API tests' server knows the task classes their verdicts name (see ``evaluations.POLICY``)."""

from __future__ import annotations

import pytest

from tests.api.evaluations import POLICY
from tests.conftest import StartServer
from tests.support.server import ServerThread


@pytest.fixture
def server(start_server: StartServer) -> ServerThread:
    return start_server(policy=POLICY)
