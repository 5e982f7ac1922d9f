"""Shared fixtures: every store test runs on SQLite and on PostgreSQL, migrated with alembic."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine

from driftwatch.api.app import create_app
from driftwatch.config import Policy, Settings
from driftwatch.db import migrate
from driftwatch.notify.network import Resolver
from tests.support.ast_parse import serialize_ast_parse
from tests.support.databases import drop_templates, empty_all_tables, engine_for, fresh_database
from tests.support.processes import end_started_processes
from tests.support.server import ServerThread

BACKENDS = ["sqlite", "postgresql"]

# Property tests draw the same examples on every run and machine (derandomize), keep no example
# database between runs (a failure replays from its printed blob, not from a file in the tree), and
# hold no per-example deadline or speed health check: on a loaded machine those fail a correct test.
settings.register_profile(
    "driftwatch",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("driftwatch")
serialize_ast_parse()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """End the `driftwatch serve` processes the test started before any fixture is torn down (a
    process left running holds connections that would block emptying the store), pass or fail."""
    end_started_processes()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the migrated template stores this process made (tests/support/databases.py)."""
    drop_templates()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database per backend, shared by the session; tables are emptied after each test."""
    with fresh_database(request.param, tmp_path_factory.mktemp(request.param)) as url:
        engine = engine_for(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = engine_for(database_url)
    try:
        yield engine
    finally:
        empty_all_tables(engine)
        engine.dispose()


StartServer = Callable[..., ServerThread]


@pytest.fixture
def start_server(engine: Engine, database_url: str) -> Iterator[StartServer]:
    """Start a real HTTP server on the test store: ``start_server(policy=..., resolver=..., **settings)``
    (``resolver`` resolves webhook hosts; default: the system's)."""
    servers: list[ServerThread] = []

    def start(
        policy: Policy | None = None, resolver: Resolver | None = None, **settings: object
    ) -> ServerThread:
        app_settings = Settings(database_url=database_url, **settings)  # type: ignore[arg-type]
        app = create_app(app_settings, policy or Policy(), engine=engine, resolver=resolver)
        server = ServerThread(app)
        servers.append(server.__enter__())
        return server

    yield start
    for server in servers:
        server.__exit__(None, None, None)


@pytest.fixture
def server(start_server: StartServer) -> ServerThread:
    return start_server()
