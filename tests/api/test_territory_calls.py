"""Reading listings never re-checks them against the territory (they were checked when written)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from geodata.territory import Territory

#: Territory methods a place check calls.
CHECKS = ("commune_at", "zone_at", "contains", "distance_to_boundary_m", "commune_name")


@pytest.fixture
def territory_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Count the calls of every place-check method of every territory."""
    calls: Counter[str] = Counter()

    def counting(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Territory, *args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return method(self, *args, **kwargs)

        return wrapper

    for name in CHECKS:
        monkeypatch.setattr(Territory, name, counting(name, getattr(Territory, name)))
    yield calls


def test_listing_a_page_makes_no_territory_check(
    client: TestClient, territory_calls: Counter[str]
) -> None:
    response = client.get("/premises", params={"limit": 20})
    assert response.status_code == 200
    assert len(response.json()["items"]) == 20
    assert sum(territory_calls.values()) == 0, territory_calls


def test_one_listing_makes_no_territory_check(
    client: TestClient, territory_calls: Counter[str]
) -> None:
    first = client.get("/premises", params={"limit": 1}).json()["items"][0]
    territory_calls.clear()
    assert client.get(f"/premises/{first['id']}").status_code == 200
    assert sum(territory_calls.values()) == 0, territory_calls
