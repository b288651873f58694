"""Check an uploaded photo of a listing and re-encode it without its metadata.

A photo is accepted when its *content* is a JPEG, PNG or WebP image (its file name is never
trusted), within :class:`PhotoLimits`: its size in bytes, and its pixel count, read from the
header before anything is decoded (a small file can declare a huge image: a decompression
bomb). It is then decoded, turned upright (EXIF orientation), reduced to at most
``max_side`` pixels on its longest side and re-encoded as a JPEG from its pixels alone, so
that nothing of the original file is kept: no EXIF (GPS position, camera owner, serial
numbers), no XMP, no comment, no embedded profile. A refusal is a :class:`PhotoError` naming
the field and the reason in French and English.
"""

from __future__ import annotations

import hashlib
import io
import math
import warnings
from dataclasses import dataclass
from typing import Literal

__all__ = ["ACCEPTED_TYPES", "PhotoError", "PhotoLimits", "PreparedPhoto", "prepare_photo"]

#: What the content of an upload may be (the re-encoded photo is always a JPEG).
ACCEPTED_TYPES = ("image/jpeg", "image/png", "image/webp")
_PIL_FORMATS = ("JPEG", "PNG", "WEBP")

Lang = Literal["fr", "en"]


@dataclass(frozen=True)
class PhotoLimits:
    """Bounds of an uploaded photo (``IMPLANTER_UPLOADS__PHOTO_*`` settings in the API).

    Parameters
    ----------
    max_bytes
        Largest file accepted, in bytes (8 MiB).
    max_pixels
        Largest image accepted, in pixels (width × height, 40 million), read from the header
        before decoding.
    max_side
        Longest side of the stored photo, in pixels (larger photos are reduced).
    per_listing
        Most photos one listing may have.
    quality
        JPEG quality of the stored photo (1-95).
    """

    max_bytes: int = 8 * 2**20
    max_pixels: int = 40_000_000
    max_side: int = 1600
    per_listing: int = 20
    quality: int = 85


class PhotoError(ValueError):
    """An upload refused, with the field and the reason in French and in English.

    ``str(exc)`` is the English message, ``exc.text("fr")`` the French one; both start with
    the field's name (``file : …`` / ``file: …``).
    """

    def __init__(self, field: str, fr: str, en: str) -> None:
        self.field = field
        self.reasons = {"fr": fr, "en": en}
        super().__init__(f"{field}: {en}")

    def reason(self, lang: Lang) -> str:
        """The reason in ``lang``, without the field's name."""
        return self.reasons[lang]

    def text(self, lang: Lang) -> str:
        """The message in ``lang``, starting with the field's name."""
        return f"{self.field} : {self.reasons['fr']}" if lang == "fr" else str(self)


@dataclass(frozen=True)
class PreparedPhoto:
    """A photo ready to store: its JPEG bytes, size in pixels and SHA-256 (hex)."""

    content: bytes
    content_type: str
    width: int
    height: int
    sha256: str


def _mib(n: int, lang: Lang) -> str:
    value = f"{n / 2**20:.1f}".rstrip("0").rstrip(".")
    return value.replace(".", ",") if lang == "fr" else value


def _what_it_is(head: bytes) -> tuple[str, str] | None:
    """What the first bytes of a refused file look like (French, English), when known."""
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lowered = stripped[:512].lower()
    if lowered.startswith(b"<svg") or (lowered.startswith(b"<?xml") and b"<svg" in lowered):
        return "une image SVG (du texte XML, qui peut contenir des scripts)", (
            "an SVG image (XML text, which may carry scripts)"
        )
    if lowered.startswith((b"<!doctype html", b"<html")):
        return "une page HTML", "an HTML page"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "une image GIF", "a GIF image"
    if head.startswith(b"%PDF"):
        return "un document PDF", "a PDF document"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
        return "une image HEIC/AVIF", "a HEIC/AVIF image"
    if head.startswith(b"PK\x03\x04"):
        return "une archive ZIP (ou un document Office)", "a ZIP archive (or an Office document)"
    try:
        head[:1024].decode("utf-8")
    except UnicodeDecodeError:
        return None
    return "du texte", "text"


def _sniff(head: bytes) -> str | None:
    """The accepted type the magic bytes show, else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def prepare_photo(
    data: bytes, limits: PhotoLimits | None = None, *, name: str = ""
) -> PreparedPhoto:
    """Check an uploaded photo and re-encode it as a JPEG without any metadata.

    Parameters
    ----------
    data
        The uploaded file's bytes.
    limits
        The bounds (default :class:`PhotoLimits`).
    name
        The file's name, only to name it in messages.

    Returns
    -------
    PreparedPhoto
        The JPEG to store.

    Raises
    ------
    PhotoError
        On the field ``file``: empty, too large, not a JPEG, PNG or WebP by its content,
        too many pixels, truncated or damaged.

    Examples
    --------
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (4000, 3000), "#2a6f97").save(buffer, "PNG")
    >>> photo = prepare_photo(buffer.getvalue())
    >>> photo.content_type, photo.width, photo.height
    ('image/jpeg', 1600, 1200)
    >>> try:
    ...     prepare_photo(b"<svg xmlns='http://www.w3.org/2000/svg'/>")
    ... except PhotoError as exc:
    ...     print(exc.field, "|", exc.text("en")[:44])
    file | file: the content is an SVG image (XML text,
    """
    limits = limits or PhotoLimits()
    shown = f"« {name} » " if name else ""
    shown_en = f"'{name}' " if name else ""
    if not data:
        raise PhotoError("file", f"le fichier {shown}est vide.", f"the file {shown_en}is empty")
    if len(data) > limits.max_bytes:
        raise PhotoError(
            "file",
            f"le fichier {shown}fait {_mib(len(data), 'fr')} Mio, la limite est "
            f"{_mib(limits.max_bytes, 'fr')} Mio ; réduisez la photo (moins de pixels ou "
            "une compression plus forte) et renvoyez-la.",
            f"the file {shown_en}is {_mib(len(data), 'en')} MiB, the limit is "
            f"{_mib(limits.max_bytes, 'en')} MiB; make the photo smaller (fewer pixels or "
            "more compression) and send it again",
        )
    kind = _sniff(data[:16])
    if kind is None:
        what = _what_it_is(data[:1024])
        fr, en = what if what else ("un format inconnu", "an unknown format")
        raise PhotoError(
            "file",
            f"le contenu {'de ' + shown if shown else ''}est {fr}, pas une photo JPEG, PNG "
            "ou WebP ; envoyez une photo dans l'un de ces formats.",
            f"the content {'of ' + shown_en if shown_en else ''}is {en}, not a JPEG, PNG or "
            "WebP photo; send a photo in one of those formats",
        )
    return _reencode(data, kind, limits, shown, shown_en)


def _damaged(shown: str, shown_en: str, kind: str) -> PhotoError:
    fmt = kind.split("/")[1].upper()
    return PhotoError(
        "file",
        f"le fichier {shown}commence comme une image {fmt} mais il est tronqué ou abîmé ; "
        "renvoyez le fichier d'origine.",
        f"the file {shown_en}starts like a {fmt} image but is truncated or damaged; send the "
        "original file again",
    )


def _reencode(
    data: bytes, kind: str, limits: PhotoLimits, shown: str, shown_en: str
) -> PreparedPhoto:
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns (and errors past twice its own bound) on huge images: our own,
            # lower bound below refuses them first, with a message naming the field.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=_PIL_FORMATS)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _damaged(shown, shown_en, kind) from exc
    except Image.DecompressionBombError:
        image = None
    if image is None or image.width * image.height > limits.max_pixels:
        size = "" if image is None else f"{image.width} × {image.height} pixels, "
        limit = f"{limits.max_pixels:,}"
        raise PhotoError(
            "file",
            f"l'image {shown}fait {size}plus que la limite de {limit.replace(',', ' ')} "
            "pixels ; réduisez-la et renvoyez-la.",
            f"the image {shown_en}is {size}more than the limit of {limit} pixels; make it "
            "smaller and send it again",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            scale = limits.max_side / max(image.size)
            if image.format == "JPEG" and scale < 1:
                # Decode at a reduced scale (1/2, 1/4, 1/8) when the photo will be reduced
                # anyway: JPEG does it while decoding, at a fraction of the cost.
                target = (math.ceil(image.width * scale), math.ceil(image.height * scale))
                image.draft("RGB", target)
            image.load()
            picture: Image.Image = ImageOps.exif_transpose(image) or image
            if picture.mode in ("RGBA", "LA", "PA") or (
                picture.mode == "P" and "transparency" in picture.info
            ):
                rgba = picture.convert("RGBA")
                picture = Image.new("RGB", rgba.size, (255, 255, 255))
                picture.paste(rgba, mask=rgba.getchannel("A"))
            elif picture.mode != "RGB":
                picture = picture.convert("RGB")
            picture.thumbnail((limits.max_side, limits.max_side), Image.Resampling.LANCZOS)
            # A new image from the pixels alone: nothing of the file's metadata (EXIF, XMP,
            # comments, ICC profile) can reach the encoder.
            clean = Image.frombytes("RGB", picture.size, picture.tobytes())
    except (OSError, SyntaxError, ValueError) as exc:
        raise _damaged(shown, shown_en, kind) from exc
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=limits.quality, optimize=True, progressive=True)
    content = out.getvalue()
    return PreparedPhoto(
        content=content,
        content_type="image/jpeg",
        width=clean.width,
        height=clean.height,
        sha256=hashlib.sha256(content).hexdigest(),
    )
