"""A TCP forwarder on 127.0.0.1 that a test can cut, black-hole and restore: a database outage
without touching the machine's database server."""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from contextlib import suppress
from types import TracebackType

FORWARD = "forward"
CUT = "cut"  # live connections reset, new ones accepted and reset at once
BLACKHOLE = "blackhole"  # live connections reset, new ones accepted and never answered


def _reset(sock: socket.socket) -> None:
    # SO_LINGER 0: close() sends RST, as when a host's database process dies.
    with suppress(OSError):  # already closed by the peer: nothing left to reset
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class TcpProxy:
    """Forwards 127.0.0.1:port to target; one thread, stopped by close() or `with`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._mode = FORWARD
        self._lock = threading.Lock()
        self._peers: dict[socket.socket, socket.socket] = {}
        self._held: list[socket.socket] = []
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ)
        self._stopping = False
        self.accepted = 0  # connections the proxy accepted, in every mode
        self._thread = threading.Thread(target=self._run, name="tcpproxy", daemon=True)
        self._thread.start()

    def cut(self) -> None:
        self._switch(CUT)

    def blackhole(self) -> None:
        self._switch(BLACKHOLE)

    def restore(self) -> None:
        self._switch(FORWARD)

    def _switch(self, mode: str) -> None:
        with self._lock:
            self._mode = mode
            self._drop_all()

    def _drop_all(self) -> None:
        for sock in list(self._peers):
            self._selector.unregister(sock)
            _reset(sock)
        self._peers.clear()
        for sock in self._held:
            _reset(sock)
        self._held.clear()

    def _run(self) -> None:
        while not self._stopping:
            for key, _events in self._selector.select(timeout=0.05):
                with self._lock:
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        self._accept()
                    elif sock in self._peers:
                        self._relay(sock)

    def _accept(self) -> None:
        try:
            client, _addr = self._listener.accept()
        except BlockingIOError:
            return
        self.accepted += 1
        if self._mode == CUT:
            _reset(client)
            return
        if self._mode == BLACKHOLE:
            self._held.append(client)  # never read, never answered
            return
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _reset(client)
            return
        for sock in (client, upstream):
            sock.setblocking(True)
            self._selector.register(sock, selectors.EVENT_READ)
        self._peers[client] = upstream
        self._peers[upstream] = client

    def _relay(self, sock: socket.socket) -> None:
        other = self._peers[sock]
        try:
            data = sock.recv(65536)
            if data:
                other.sendall(data)
                return
        except OSError:
            pass  # reset by either side: both ends go, as below
        for end in (sock, other):
            self._selector.unregister(end)
            self._peers.pop(end, None)
            end.close()

    def close(self) -> None:
        self._stopping = True
        self._thread.join(timeout=5)
        with self._lock:
            self._drop_all()
        self._selector.close()
        self._listener.close()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
