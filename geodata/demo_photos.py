"""Drawn placeholder photos for a few demo listings, so that the demo shows photos.

Each picture is drawn with Pillow (a building front or an interior, in flat colours) and
marked "PHOTO FICTIVE - DEMO" across it: nothing in it is a real place. They are stored as
any upload is (:func:`geodata.photos.prepare_photo`, :func:`geodata.storage.photos.add_photo`),
so each listing that gets them moves by one version per photo, audited by ``actor``.
"""

from __future__ import annotations

import io
import random
from typing import Any

from geodata.photos import prepare_photo

__all__ = ["add_demo_photos", "draw_demo_photo"]

_SKIES = ("#bcd4e6", "#c9d6df", "#d7e3ea")
_WALLS = ("#6b7b8c", "#8a8f79", "#7d6e63", "#5f7a76")


def draw_demo_photo(
    seed: int, *, inside: bool = False, size: tuple[int, int] = (960, 640)
) -> bytes:
    """A JPEG of a made-up building front (or interior), marked as fictitious.

    Examples
    --------
    >>> from PIL import Image
    >>> Image.open(io.BytesIO(draw_demo_photo(1))).size
    (960, 640)
    """
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    w, h = size
    image = Image.new("RGB", size, rng.choice(_SKIES))
    draw = ImageDraw.Draw(image)
    wall = rng.choice(_WALLS)
    if inside:
        draw.rectangle((0, h * 2 // 3, w, h), fill="#9a9a92")  # floor
        draw.rectangle((0, 0, w, h * 2 // 3), fill="#e4e2dc")  # back wall
        for x in range(w // 10, w, w // 5):  # roof beams and lights
            draw.rectangle((x, 0, x + 12, h * 2 // 3), fill="#b9b5ab")
            draw.ellipse((x - 18, 40, x + 30, 70), fill="#fff7c2")
        for k in range(rng.randint(2, 4)):  # pallets
            x0 = 60 + k * w // 5
            draw.rectangle((x0, h * 2 // 3 - 70, x0 + 120, h * 2 // 3 + 30), fill="#b08850")
    else:
        draw.rectangle((0, h * 4 // 5, w, h), fill="#7e8a7a")  # ground
        draw.rectangle((w // 12, h // 3, w * 11 // 12, h * 4 // 5), fill=wall)  # front
        draw.polygon([(w // 12, h // 3), (w // 2, h // 5), (w * 11 // 12, h // 3)], fill="#4a4f55")
        for k in range(rng.randint(1, 3)):  # roller doors
            x0 = w // 8 + k * w // 4
            draw.rectangle((x0, h // 2, x0 + w // 6, h * 4 // 5), fill="#c7ccd1")
            for y in range(h // 2 + 8, h * 4 // 5, 16):
                draw.line((x0, y, x0 + w // 6, y), fill="#9aa1a8", width=3)
    font = ImageFont.load_default(size=max(18, h // 14))
    text = "PHOTO FICTIVE - DEMO"  # ASCII: Pillow's built-in font has no accents
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tw, th = int(right - left), int(bottom - top)
    tx, ty = (w - tw) // 2, h // 18
    draw.rectangle((tx - 12, ty - 8, tx + tw + 12, ty + th + 16), fill="#fff")
    draw.text((tx, ty), text, fill="#8a1c1c", font=font)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def add_demo_photos(repo: Any, *, listings: int = 6, actor: str = "demo") -> int:
    """Give the first ``listings`` available demo listings (by id) two drawn photos each.

    Parameters
    ----------
    repo
        A :class:`geodata.storage.Repository` holding the demo catalogue.
    listings
        How many listings get photos.
    actor
        Who the audit trail names as the author.

    Returns
    -------
    int
        The number of photos stored.
    """
    from geodata.storage import photos
    from geodata.storage import premises as store
    from geodata.storage.query import PremisesQuery

    stored = 0
    with repo.begin() as conn:
        page = store.list_premises(conn, PremisesQuery(status="available", limit=listings))
        for item in page.items:
            for inside, alt, alt_en in (
                (
                    False,
                    "Façade dessinée (photo fictive de démonstration)",
                    "Drawn front (fictitious demo photo)",
                ),
                (
                    True,
                    "Intérieur dessiné (photo fictive de démonstration)",
                    "Drawn interior (fictitious demo photo)",
                ),
            ):
                photo = prepare_photo(draw_demo_photo(item.id * 2 + inside, inside=inside))
                photos.add_photo(conn, item.id, photo, alt=alt, alt_en=alt_en, actor=actor)
                stored += 1
    return stored
