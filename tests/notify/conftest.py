"""Webhook tests send to receivers on loopback: their servers allow exactly that network, explicitly."""

from __future__ import annotations

import pytest

from tests.conftest import StartServer
from tests.fakes.webhook_receiver import LOOPBACK_RECEIVERS
from tests.support.server import ServerThread


@pytest.fixture
def server(start_server: StartServer) -> ServerThread:
    return start_server(webhook_allowed_networks=LOOPBACK_RECEIVERS)
