"""One SQLAlchemy engine per database URL, configured by the URL's dialect hooks."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geodata.storage._dialects import hooks_for

__all__ = ["dispose_engine", "get_engine"]

_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def get_engine(url: str) -> Engine:
    """Return the engine of ``url``, creating and configuring it on first use.

    Parameters
    ----------
    url : str
        A SQLAlchemy URL: ``sqlite:///path/to/file.db`` or
        ``postgresql+psycopg://user@host:5432/dbname``.

    Returns
    -------
    sqlalchemy.engine.Engine
        The same object for the same URL, so that every caller shares one pool.
    """
    with _LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            parsed = sa.make_url(url)
            hooks = hooks_for(parsed)
            hooks.prepare_url(parsed)
            engine = sa.create_engine(parsed, **hooks.engine_kwargs(parsed))
            hooks.configure_engine(engine)
            _ENGINES[url] = engine
        return engine


def dispose_engine(url: str) -> None:
    """Close the pooled connections of ``url`` and forget its engine.

    Parameters
    ----------
    url : str
        The URL given to :func:`get_engine`; unknown URLs are ignored.
    """
    with _LOCK:
        engine = _ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()
