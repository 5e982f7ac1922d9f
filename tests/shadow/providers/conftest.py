from __future__ import annotations

import pytest

from tests.shadow.providers.support import BACKENDS, Backend


@pytest.fixture(params=BACKENDS, ids=[backend.kind for backend in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each test of the shared transport runs once per wire protocol, on the real SDK client."""
    backend: Backend = request.param
    return backend
