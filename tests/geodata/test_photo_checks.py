"""An uploaded photo is told by its content, bounded, and re-encoded without its metadata."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from geodata.photos import PhotoError, PhotoLimits, prepare_photo
from tests.utils.images import (
    OWNER,
    bomb_png,
    jpeg_with_gps,
    png_bytes,
    svg_bytes,
    transparent_png,
    truncated_jpeg,
)


def test_a_photo_loses_its_gps_position_camera_and_owner() -> None:
    sent = jpeg_with_gps()
    before = Image.open(io.BytesIO(sent))
    assert before.getexif().get_ifd(0x8825)  # the upload does carry a GPS position
    photo = prepare_photo(sent)
    stored = Image.open(io.BytesIO(photo.content))
    assert stored.format == "JPEG" and photo.content_type == "image/jpeg"
    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info and "comment" not in stored.info
    assert "icc_profile" not in stored.info and "xmp" not in stored.info
    for secret in (OWNER.encode(), "Appareil Démo".encode(), b"Exif"):
        assert secret not in photo.content
    assert (photo.width, photo.height) == stored.size == (400, 200)


def test_a_photo_is_turned_upright_as_its_exif_orientation_says() -> None:
    photo = prepare_photo(jpeg_with_gps((400, 200), orientation=6))  # rotated 90°
    assert (photo.width, photo.height) == (200, 400)


def test_a_large_photo_is_reduced_and_a_transparent_one_flattened() -> None:
    photo = prepare_photo(png_bytes((3000, 1500)), PhotoLimits(max_side=800))
    assert (photo.width, photo.height) == (800, 400)
    flat = prepare_photo(transparent_png())
    pixel = Image.open(io.BytesIO(flat.content)).convert("RGB").getpixel((10, 10))
    assert isinstance(pixel, tuple) and min(pixel) > 245  # white, not black


def _refusal(data: bytes, limits: PhotoLimits | None = None) -> PhotoError:
    with pytest.raises(PhotoError) as caught:
        prepare_photo(data, limits, name="facade.jpg")
    assert caught.value.field == "file"
    assert caught.value.text("fr").startswith("file : ")
    assert str(caught.value).startswith("file: ")
    return caught.value


@pytest.mark.parametrize(
    ("data", "fr", "en"),
    [
        (b"Bonjour, ceci est un texte.\n" * 20, "est du texte", "is text"),
        (svg_bytes(), "une image SVG", "an SVG image"),
        (b"GIF89a" + b"\x00" * 100, "une image GIF", "a GIF image"),
        (b"%PDF-1.7\n" + b"\x00" * 100, "un document PDF", "a PDF document"),
        (b"", "est vide", "is empty"),
    ],
    ids=["text-named-jpg", "svg", "gif", "pdf", "empty"],
)
def test_what_is_not_a_photo_is_refused_by_its_content(data: bytes, fr: str, en: str) -> None:
    refused = _refusal(data)
    assert fr in refused.reason("fr") and "« facade.jpg »" in refused.reason("fr")
    assert en in refused.reason("en")


def test_a_truncated_image_is_refused() -> None:
    refused = _refusal(truncated_jpeg())
    assert "tronqué ou abîmé" in refused.reason("fr")
    assert "truncated or damaged" in refused.reason("en")


def test_a_file_over_the_size_limit_is_refused_before_decoding() -> None:
    data = png_bytes((600, 400))
    refused = _refusal(data, PhotoLimits(max_bytes=len(data) - 1))
    assert "la limite est" in refused.reason("fr") and "the limit is" in refused.reason("en")


@pytest.mark.parametrize(("width", "height"), [(8000, 8000), (30_000, 30_000)])
def test_a_decompression_bomb_is_refused_from_its_header(width: int, height: int) -> None:
    data = bomb_png(width, height)
    assert len(data) < 100  # a tiny file declaring a huge image
    refused = _refusal(data)
    assert "plus que la limite de 40 000 000 pixels" in refused.reason("fr")
    assert "more than the limit of 40,000,000 pixels" in refused.reason("en")
    if width * height < 89_000_000:  # Pillow reads the size; past its own bound it refuses
        assert f"{width} × {height}" in refused.reason("en")
