"""A webhook receiver on a loopback port: a real HTTP server in a thread that records requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request as the receiver got it."""

    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """What the receiver answers (``mode``) and what it got.

    Modes: ``ok`` (204), ``error`` (500), ``redirect`` (302 elsewhere), ``slow`` (answers
    after ``slow_seconds``), ``hold_first`` (keeps the first request open until
    :attr:`release` is set, answers the next ones at once).
    """

    url: str
    mode: str = "ok"
    slow_seconds: float = 2.0
    received: list[Received] = field(default_factory=list)
    first_arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, n: int, timeout: float = 60.0) -> bool:
        """Wait until ``n`` requests arrived (False if they did not in ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < n:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """Serve a :class:`Receiver` on 127.0.0.1 (a free port) until the block ends."""
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            first = not state.received
            state.received.append(Received(dict(self.headers.items()), body))
            if first:
                state.first_arrived.set()
            mode = state.mode
            if mode == "hold_first" and first:
                state.release.wait(60)
            if mode == "slow":
                time.sleep(state.slow_seconds)
            status = {"error": 500, "redirect": 302}.get(mode, 204)
            try:
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass  # the sender went away (killed, or timed out)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state = Receiver(url=f"http://127.0.0.1:{server.server_port}/hooks/implanter")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
