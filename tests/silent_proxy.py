"""A TCP proxy in front of the test database that can stop answering, as a hung server does.

While it speaks it relays bytes both ways. Silenced, it still accepts connections and reads
everything sent to it, but relays nothing and answers nothing: the kernel acknowledges every
packet, so only the client's own timeouts can notice.
"""

from __future__ import annotations

import socket
import threading


class SilentProxy:
    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.silent = threading.Event()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self._start(self._accept)

    def __enter__(self) -> SilentProxy:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def silence(self) -> None:
        self.silent.set()

    def speak(self) -> None:
        self.silent.clear()

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        self.listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _keep(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.append(sock)
        return sock

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            self._keep(client)
            if self.silent.is_set():
                self._start(self._swallow, client)
                continue
            try:
                server = self._keep(socket.create_connection(self.upstream, timeout=5))
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            self._start(self._pump, client, server)
            self._start(self._pump, server, client)

    def _swallow(self, sock: socket.socket) -> None:
        while not self._closing.is_set():
            try:
                if not sock.recv(65536):
                    return
            except OSError:
                return

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                break
            if not data:
                break
            if self.silent.is_set():
                continue  # read and dropped: the server "stopped answering"
            try:
                target.sendall(data)
            except OSError:
                break
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
