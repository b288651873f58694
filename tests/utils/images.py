"""Image files for the photo tests, drawn with Pillow: honest photos and hostile uploads."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image, ImageDraw

__all__ = [
    "OWNER",
    "bomb_png",
    "jpeg_with_gps",
    "noisy_png",
    "png_bytes",
    "svg_bytes",
    "transparent_png",
    "truncated_jpeg",
]

#: The camera owner written in the EXIF and the JPEG comment of :func:`jpeg_with_gps`.
OWNER = "Jean-Kévin Propriétaire"


def _drawing(size: tuple[int, int]) -> Image.Image:
    image = Image.new("RGB", size, "#c9d6df")
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((w // 8, h // 3, w * 7 // 8, h * 9 // 10), fill="#6b7b8c")
    draw.rectangle((w * 2 // 5, h // 2, w * 3 // 5, h * 9 // 10), fill="#2f3e4e")
    return image


def jpeg_with_gps(size: tuple[int, int] = (400, 200), *, orientation: int = 1) -> bytes:
    """A JPEG carrying an EXIF GPS position (Vitry-sur-Seine), a camera, an owner (EXIF
    Artist and Copyright, and a JPEG comment) and an EXIF orientation."""
    exif = Image.Exif()
    exif[0x010F] = "Appareil Démo"  # Make
    exif[0x0110] = "Modèle 12"  # Model
    exif[0x013B] = OWNER  # Artist
    exif[0x8298] = f"© {OWNER}"  # Copyright
    exif[0x0112] = orientation  # Orientation
    exif[0x8825] = {  # GPSInfo
        1: "N",
        2: (48.0, 47.0, 13.2),
        3: "E",
        4: (2.0, 23.0, 31.2),
    }
    out = io.BytesIO()
    _drawing(size).save(out, "JPEG", exif=exif, comment=OWNER.encode())
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (300, 200)) -> bytes:
    """A plain PNG."""
    out = io.BytesIO()
    _drawing(size).save(out, "PNG")
    return out.getvalue()


def noisy_png(size: tuple[int, int] = (150, 150), seed: int = 1) -> bytes:
    """A PNG of random pixels: it hardly compresses (about 3 bytes a pixel)."""
    import random

    pixels = random.Random(seed).randbytes(size[0] * size[1] * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", size, pixels).save(out, "PNG")
    return out.getvalue()


def transparent_png(size: tuple[int, int] = (120, 80)) -> bytes:
    """A PNG whose pixels are all transparent."""
    out = io.BytesIO()
    Image.new("RGBA", size, (255, 0, 0, 0)).save(out, "PNG")
    return out.getvalue()


def truncated_jpeg() -> bytes:
    """The first half of a JPEG: its header is fine, its data stops short."""
    whole = jpeg_with_gps((600, 400))
    return whole[: len(whole) // 2]


def svg_bytes() -> bytes:
    """An SVG image carrying a script."""
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" '
        b'height="10"><script>alert(1)</script></svg>'
    )


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A tiny PNG that declares ``width`` × ``height`` pixels (a decompression bomb): a real
    1 × 1 PNG whose header is rewritten, with its checksum fixed."""
    small = io.BytesIO()
    Image.new("L", (1, 1)).save(small, "PNG")
    data = bytearray(small.getvalue())
    # Signature (8 bytes), then the IHDR chunk: length (4), type (4), data (13), CRC (4).
    ihdr = bytearray(data[16:29])
    ihdr[0:8] = struct.pack(">II", width, height)
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + bytes(ihdr)))
    return bytes(data)
