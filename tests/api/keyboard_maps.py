"""Keyboard use of the site's maps in Chromium: Tab to a marker, Enter to open its popup."""

from __future__ import annotations

from typing import Any

#: What the focused element is: a listing's marker, a cluster, or something else.
_ACTIVE = """(() => {
  const el = document.activeElement;
  if (!el) return null;
  return {
    marker: el.classList.contains("premises-marker"),
    cluster: el.classList.contains("marker-cluster"),
    role: el.getAttribute("role"),
    label: el.getAttribute("aria-label") || el.getAttribute("title") || "",
    tag: el.tagName,
    href: el.getAttribute("href"),
  };
})()"""


def active(page: Any) -> dict[str, Any]:
    """The focused element's kind, role, accessible name and link."""
    found: dict[str, Any] = page.evaluate(_ACTIVE)
    return found


def tab_into_map(page: Any, frame: str, *, presses: int = 40) -> dict[str, Any]:
    """Focus the map of ``frame`` (its container takes the focus, as Leaflet makes it),
    then press Tab until a marker or a cluster has the focus; what has it."""
    page.locator(f"{frame} .folium-map").focus()
    for _ in range(presses):
        page.keyboard.press("Tab")
        now = active(page)
        if now["marker"] or now["cluster"]:
            return now
    msg = f"no marker of {frame} reached with Tab in {presses} presses"
    raise AssertionError(msg)


def open_marker(page: Any, frame: str) -> dict[str, Any]:
    """From the focus on a cluster, Enter until a listing's marker has it (each Enter zooms
    in and moves the focus to the nearest marker or cluster); then Enter opens its popup.
    Returns the marker's focus state; the popup's link then has the focus."""
    zoom = f"window[document.querySelector('{frame} .folium-map').id].getZoom()"
    now = active(page)
    for _ in range(12):
        if now["marker"]:
            break
        assert now["cluster"] and now["role"] == "button", now
        before = page.evaluate(zoom)
        page.evaluate("() => { document.activeElement.dataset.left = 'yes'; }")
        page.keyboard.press("Enter")
        page.wait_for_function(f"() => {zoom} > {before}")
        # The cluster's element is gone; the focus is on another marker or cluster.
        page.wait_for_function(
            "() => { const el = document.activeElement; return el && !el.dataset.left && ("
            "el.classList.contains('premises-marker') || el.classList.contains('marker-cluster'))"
            "; }"
        )
        now = active(page)
    assert now["marker"] and now["role"] == "button", now
    page.keyboard.press("Enter")
    page.wait_for_selector(f"{frame} .leaflet-popup-content a")
    return now


def popup_settled(page: Any) -> None:
    """Wait for the open popup's fade-in to end (axe-core reads colours as drawn)."""
    page.wait_for_function(
        "() => { const p = document.querySelector('.leaflet-popup');"
        " return p && getComputedStyle(p).opacity === '1'; }"
    )
