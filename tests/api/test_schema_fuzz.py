"""Fuzz every route of the app's own OpenAPI document with schemathesis, on a real uvicorn.

Bounded: a fixed number of generated cases per operation, derandomised so a failure replays.
Every response must be documented (status, content type, body schema) and none may be a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from api.main import create_app
from api.settings import Settings
from tests.api.conftest import make_settings
from tests.api.live_uvicorn import serving

#: Generated cases per operation (each route also gets schemathesis' explicit examples).
MAX_EXAMPLES = 40

schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on the demo catalogue, served by uvicorn with the production options."""
    db: Path = tmp_path_factory.mktemp("fuzz") / "implanter.db"
    with serving(create_app(make_settings(db))) as url:
        yield url


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_route_answers_as_documented(case: schemathesis.Case, fuzz_server: str) -> None:
    # Every check runs except "schema-valid data must be accepted": some valid-looking values
    # are rightly refused with a 400 naming the field, for rules a JSON Schema cannot state
    # (the commune must be one of the territory's, a bbox's minimum below its maximum).
    case.call_and_validate(
        base_url=fuzz_server,
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
