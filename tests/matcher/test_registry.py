"""A criterion is one module plus its registration: a toy one filters, scores, explains and
relaxes without any change to the engine; the engine's modules name no criterion."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from matcher_data import NOW, need

from geodata.schemas import NeedIn
from matcher import MatchIndex, NeedTable, batch_match_frame, match, match_listing
from matcher.criteria.base import (
    Candidates,
    Criterion,
    Message,
    Params,
    Reason,
    Relaxation,
    lax_round,
    severity,
)
from matcher.criteria.registry import DEFAULT_REGISTRY
from matcher.explain import criterion_label

MATCHER = Path(__file__).resolve().parents[2] / "matcher"


class ChargesNeed(NeedIn):
    """A need with one more field, read by the toy criterion."""

    max_charges_eur_m2_year: float | None = None


class Charges(Criterion):
    """Toy criterion: service charges (€/m²/year) at most the need's ceiling."""

    name = "charges"
    label = ("charges", "service charges")
    default_weight = 10.0
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {
        "charges": {
            "fr": lambda p, f: (
                "charges "
                + ("non communiquées" if p["charges"] is None else f.money(p["charges"], "/m²/an"))
            ),
            "en": lambda p, f: (
                "service charges "
                + ("not stated" if p["charges"] is None else f.money(p["charges"], "/m²/year"))
            ),
        },
        "change": {
            "fr": lambda p, f: f"Plafond de charges\u00a0: {f.money(p['suggested'])}",
            "en": lambda p, f: f"Service charge ceiling: {f.money(p['suggested'])}",
        },
    }

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        limits = [getattr(n, "max_charges_eur_m2_year", None) for n in needs]
        return {"max_charges": np.array([np.nan if v is None else v for v in limits])}

    def stated(self, p: Params, m: int) -> np.ndarray:
        return ~np.isnan(p["max_charges"])

    def required(self, needs: Sequence[NeedIn]) -> np.ndarray:
        return np.ones(len(needs), dtype=bool)

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        return [("max_charges_eur_m2_year", self.ok(index.cols, p["max_charges"][i]))]

    @staticmethod
    def ok(cols: Mapping[str, Any], limit: Any) -> np.ndarray:
        return np.asarray(~(cols["charges_eur_m2_year"] > limit))

    @staticmethod
    def u(charges: Any, limit: Any) -> np.ndarray:
        return np.where(np.isnan(charges), 0.5, np.where(charges <= limit, 1.0, 0.0))

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        return self.u(index.cols["charges_eur_m2_year"][rows], p["max_charges"][i])

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        value = record["charges_eur_m2_year"]
        charges = None if np.isnan(value) else float(value)
        return [Reason(self.name, "charges", {"charges": charges})]

    def candidates(
        self,
        index: MatchIndex,
        p: Params,
        i: int,
        need: NeedIn,
        constraint: str,
        rows: np.ndarray,
    ) -> list[Candidates]:
        charges = index.cols["charges_eur_m2_year"][rows]
        cur = float(p["max_charges"][i])

        def make(sel: np.ndarray) -> Relaxation:
            new = lax_round(float(np.max(charges[sel])), 1.0, up=True)
            return Relaxation(
                self.name,
                constraint,
                cur,
                new,
                {"max_charges_eur_m2_year": new},
                0,
                (new - cur) / cur,
                {},
                reason=Reason(self.name, "change", {"suggested": new}),
            )

        return [Candidates(self.name, constraint, severity((charges - cur) / cur, 5.0), make)]

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return ~(index.cols["charges_eur_m2_year"][pos] > p["max_charges"])

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        return self.u(index.cols["charges_eur_m2_year"][pos], p["max_charges"])


REGISTRY = DEFAULT_REGISTRY.with_criterion(Charges())


def _need(limit: float, **kw: Any) -> ChargesNeed:
    return ChargesNeed(**need(**kw).model_dump(), max_charges_eur_m2_year=limit)


def test_toy_criterion_filters_scores_and_explains(index: MatchIndex) -> None:
    table = NeedTable.from_needs([_need(12.0)], registry=REGISTRY)
    result = match(index, table, k=10_000, now=NOW, relax=False)
    plain = match(index, need(), k=10_000, now=NOW, relax=False)
    charges = index.cols["charges_eur_m2_year"]
    kept = [index.position(i) for i in result.ids]
    assert result.results and not (charges[kept] > 12.0).any()
    assert 0 < result.diagnostics.n_matching < plain.diagnostics.n_matching
    assert result.diagnostics.excluded["charges"] > 0
    item = result.results[0]
    assert item.utilities["charges"] in (1.0, 0.5)
    assert any(t.startswith("charges ") for t in item.reasons["fr"])
    assert any(t.startswith("service charges ") for t in item.reasons["en"])
    assert {d["criterion"] for d in item.reason_details} >= {"surface", "charges"}
    assert criterion_label("charges", "en", REGISTRY) == "service charges"
    # the same listing, the same score the other way round and in batch
    back = match_listing(index, item.listing_id, table)
    assert back and back[0].score == item.score
    results, _ = batch_match_frame(index, table, k=3)
    assert results["listing_id"].tolist() == result.ids[:3]


def test_toy_criterion_relaxes(index: MatchIndex) -> None:
    n = _need(6.0, required=["surface", "use", "budget"])
    table = NeedTable.from_needs([n], registry=REGISTRY)
    result = match(index, table, k=30, now=NOW)
    ours = [r for r in result.relaxations if r.criterion == "charges"]
    assert ours, result.relaxations
    r = ours[0]
    assert r.suggested > 6.0 and r.brings > 0
    assert r.text["fr"].startswith("Plafond de charges")
    changed = ChargesNeed.model_validate({**n.model_dump(), **r.need_update})
    again = match(index, NeedTable.from_needs([changed], registry=REGISTRY), k=10_000, now=NOW)
    assert again.diagnostics.n_matching == result.diagnostics.n_matching + r.brings


def _imports(path: Path) -> tuple[list[str], list[int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    nested: list[int] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            nested.extend(
                n.lineno for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)
            )
    return names, nested


@pytest.mark.parametrize(
    "module", ["engine", "relax", "explain", "reverse", "batch", "needs", "ranker"]
)
def test_engine_modules_import_only_the_registry(module: str) -> None:
    names, nested = _imports(MATCHER / f"{module}.py")
    criteria = [n for n in names if n.startswith("matcher.criteria")]
    assert set(criteria) <= {"matcher.criteria.registry"}, criteria
    assert not nested, f"imports inside functions of matcher/{module}.py at lines {nested}"


def test_no_criterion_imports_the_engine() -> None:
    for path in (MATCHER / "criteria").glob("*.py"):
        names, nested = _imports(path)
        engine = {"engine", "relax", "explain", "reverse", "batch", "needs", "ranker"}
        bad = [n for n in names if n in {f"matcher.{m}" for m in engine}]
        assert not bad and not nested, (path.name, bad, nested)


def test_no_positional_criterion_index_outside_the_registry() -> None:
    # the criterion axis of (needs or rows, criteria) arrays, or a row of criteria flags
    literal = re.compile(r"\[(?::|i|r), *\d+\]|\b(?:req|act)\[\d")
    for path in MATCHER.glob("*.py"):
        if path.name != "_geo.py":  # coordinate columns, not criteria
            found = literal.findall(path.read_text(encoding="utf-8"))
            assert not found, (path.name, found)


def test_registry_refuses_clashing_names() -> None:
    with pytest.raises(ValueError, match="distinct, non-empty name"):
        DEFAULT_REGISTRY.with_criterion(Charges()).with_criterion(Charges())

    class Shadow(Charges):
        name = "shadow"

        def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
            return {"s_min": np.zeros(len(needs))}  # surface's parameter

    with pytest.raises(ValueError, match="criterion 'shadow': parameter names"):
        NeedTable.from_needs([need()], registry=DEFAULT_REGISTRY.with_criterion(Shadow()))


def test_positions_come_from_the_registry() -> None:
    assert REGISTRY.names[-1] == "charges" and REGISTRY.position("charges") == 7
    t = NeedTable.from_needs([_need(10.0)], registry=REGISTRY)
    assert t.active.shape == (1, 8) and t.active[0, REGISTRY.position("charges")]
    assert t.weights[0, REGISTRY.position("charges")] == 10.0
