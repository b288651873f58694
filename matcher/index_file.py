"""A built :class:`~matcher.index.MatchIndex` in one file, read back through a memory map.

Building the index of a large catalogue means reading every listing from the database and
preparing its columns (about half a second at 100,000 listings); a command that matches once
and exits pays that every time. :func:`save_index` writes a freshly built index to a file,
with a *key* that names what it was built from (the caller's choice: the database, the
catalogue version, the territory …), and :func:`load_index` gives it back only when the
key is the same, the format is this module's and every byte is intact; otherwise it
returns None and the caller builds the index anew. A cache file is therefore never trusted
beyond what its key says.

Layout: an 8-byte magic, the header length (8 bytes, little endian), a JSON header (the
format, the key, the index's scalars and each array's dtype, shape and offset, a CRC-32 of
the data), then the arrays, each aligned to 64 bytes. The arrays are views of a private
(copy-on-write) memory map of the file: loading reads nothing but the header until the
CRC is checked, and changing a loaded index never writes to the file. Text columns are
stored as one NUL-separated UTF-8 block and a mask of the missing values.

Writes are atomic: the file is written under a temporary name in the same folder, flushed,
then renamed over the old one, so a reader sees the old file or the new one, never half of
one.
"""

from __future__ import annotations

import json
import mmap
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from matcher._geo import PointSet
from matcher.index import MatchIndex

__all__ = ["FORMAT_VERSION", "load_index", "save_index"]

#: Bump when the layout of the file or the meaning of an index column changes.
FORMAT_VERSION = 2  # 2: the listings' versions (``listing_version``)
MAGIC = b"IMPLIDX\x01"
_ALIGN = 64
_SEP = "\x00"


def _encode_text(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A text (object) column as (UTF-8 bytes, missing mask); None when it cannot be."""
    missing = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    texts = ["" if v is None else v for v in values]
    if not all(isinstance(t, str) and _SEP not in t for t in texts):
        return None
    blob = _SEP.join(texts).encode("utf-8")
    return np.frombuffer(blob, dtype=np.uint8), missing


def _decode_text(blob: np.ndarray, missing: np.ndarray) -> np.ndarray:
    n = len(missing)
    out = np.empty(n, dtype=object)
    if n:
        parts = blob.tobytes().decode("utf-8").split(_SEP)
        if len(parts) != n:
            msg = "text column: wrong number of values"
            raise ValueError(msg)
        out[:] = parts
        out[missing] = None
    return out


def _arrays_of(index: MatchIndex) -> dict[str, np.ndarray] | None:
    """Every array to store, text columns encoded; None when the index cannot be stored."""
    arrays: dict[str, np.ndarray] = {}
    for name, arr in index._store.items():
        if arr.dtype == object:
            encoded = _encode_text(arr)
            if encoded is None:
                return None
            arrays[f"text:{name}"], arrays[f"none:{name}"] = encoded
        else:
            arrays[f"col:{name}"] = arr
    arrays["grid_starts"] = index._grid_starts
    for kind, points in (("stations", index.stations), ("interchanges", index.interchanges)):
        if points is None:
            continue
        arrays[f"{kind}:lon"] = points.lon
        arrays[f"{kind}:lat"] = points.lat
        names = _encode_text(np.asarray(points.names, dtype=object))
        if names is None:
            return None
        arrays[f"{kind}:names"], arrays[f"{kind}:none"] = names
    return arrays


def _padding(nbytes: int) -> bytes:
    """The zeros after an array of ``nbytes``, up to the next aligned offset."""
    return b"\0" * (-(-nbytes // _ALIGN) * _ALIGN - nbytes)


def save_index(index: MatchIndex, path: str | os.PathLike[str], key: dict[str, Any]) -> bool:
    """Write a freshly built index to ``path`` under ``key``, atomically.

    Returns False (and writes nothing) when the index holds changes applied since it was
    built (moved or added rows waiting for a re-sort) or a text value that cannot be stored;
    such an index is simply built again next time.

    Parameters
    ----------
    index
        The index, as built by :class:`MatchIndex` (no :meth:`~MatchIndex.update` since).
    path
        The file to write (its folder must exist).
    key
        JSON-serialisable values naming what the index was built from; :func:`load_index`
        returns the index only for an equal key.
    """
    if index._n_stale or index._n != index._cap:
        return False
    arrays = _arrays_of(index)
    if arrays is None:
        return False
    layout = []
    offset = 0
    for name, arr in arrays.items():
        arr = np.ascontiguousarray(arr)
        arrays[name] = arr
        layout.append(
            {"name": name, "dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset}
        )
        offset += -(-arr.nbytes // _ALIGN) * _ALIGN
    crc = 0
    for arr in arrays.values():
        crc = zlib.crc32(arr.view(np.uint8).reshape(-1).data, crc)
        crc = zlib.crc32(_padding(arr.nbytes), crc)
    header = {
        "format": FORMAT_VERSION,
        "key": key,
        "version": index.version,
        "n": index._n,
        "grid": list(index._grid),
        "communes": index.communes,
        "commune_names": index.commune_names,
        "data_bytes": offset,
        "crc32": crc,
        "arrays": layout,
    }
    head = json.dumps(header, sort_keys=True).encode("utf-8")
    start = -(-(len(MAGIC) + 8 + len(head)) // _ALIGN) * _ALIGN
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC)
            f.write(len(head).to_bytes(8, "little"))
            f.write(head)
            f.write(b"\0" * (start - len(MAGIC) - 8 - len(head)))
            for arr in arrays.values():
                f.write(arr.view(np.uint8).reshape(-1).data)
                f.write(_padding(arr.nbytes))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # as a file the user writes (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _read_header(buf: mmap.mmap) -> tuple[dict[str, Any], int]:
    if len(buf) < len(MAGIC) + 8 or buf[: len(MAGIC)] != MAGIC:
        msg = "not a match index file"
        raise ValueError(msg)
    size = int.from_bytes(buf[len(MAGIC) : len(MAGIC) + 8], "little")
    end = len(MAGIC) + 8 + size
    if end > len(buf):
        msg = "truncated header"
        raise ValueError(msg)
    header: dict[str, Any] = json.loads(bytes(buf[len(MAGIC) + 8 : end]).decode("utf-8"))
    return header, -(-end // _ALIGN) * _ALIGN


def load_index(path: str | os.PathLike[str], key: dict[str, Any]) -> MatchIndex | None:
    """The index stored in ``path`` under this very ``key``, or None.

    None when the file is missing, of another format, stored under another key, truncated
    or corrupted (its CRC-32 differs): the caller then builds the index. The arrays are
    views of a private memory map of the file; changes to the index stay in this process.
    """
    try:
        with open(path, "rb") as f:
            buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    except (OSError, ValueError):  # missing, unreadable, or empty (ValueError)
        return None
    try:
        header, start = _read_header(buf)
        if header.get("format") != FORMAT_VERSION or header.get("key") != key:
            return None
        if start + int(header["data_bytes"]) != len(buf):
            return None
        view = memoryview(buf)[start:]
        if zlib.crc32(view) != header["crc32"]:
            return None
        arrays = {
            item["name"]: np.frombuffer(
                buf,
                dtype=np.dtype(item["dtype"]),
                count=int(np.prod(item["shape"], dtype=np.int64)),
                offset=start + int(item["offset"]),
            ).reshape(item["shape"])
            for item in header["arrays"]
        }
        return _index_from(header, arrays)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def _index_from(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> MatchIndex:
    store: dict[str, np.ndarray] = {}
    for name, arr in arrays.items():
        kind, _, column = name.partition(":")
        if kind == "col":
            store[column] = arr
        elif kind == "text":
            store[column] = _decode_text(arr, arrays[f"none:{column}"])
    points: dict[str, PointSet | None] = {}
    for kind in ("stations", "interchanges"):
        if f"{kind}:lon" not in arrays:
            points[kind] = None
            continue
        names = _decode_text(arrays[f"{kind}:names"], arrays[f"{kind}:none"])
        points[kind] = PointSet(arrays[f"{kind}:lon"], arrays[f"{kind}:lat"], names)
    n = int(header["n"])
    if any(len(arr) != n for arr in store.values()):
        msg = "column lengths differ"
        raise ValueError(msg)
    return MatchIndex.from_state(
        store,
        n=n,
        grid=tuple(header["grid"]),
        grid_starts=arrays["grid_starts"],
        stations=points["stations"],
        interchanges=points["interchanges"],
        version=int(header["version"]),
        communes=list(header["communes"]),
        commune_names=dict(header["commune_names"]),
    )
