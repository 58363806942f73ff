"""Where records go: a file path, an open file or pipe, `unix:PATH` or `tcp:HOST:PORT`
(the same address syntax as `prunerd serve --listen`)."""
from __future__ import annotations

import os
import socket
from typing import Tuple

__all__ = ["parse_address", "connect", "Sink", "open_sink"]


def parse_address(address: str) -> Tuple[str, object]:
    """`unix:PATH` → ("unix", PATH); `tcp:HOST:PORT` or `tcp::PORT` → ("tcp", (HOST, PORT))."""
    if address.startswith("unix:"):
        path = address[len("unix:"):]
        if not path:
            raise ValueError(f"{address!r}: unix: needs a socket path")
        return "unix", path
    if address.startswith("tcp:"):
        rest = address[len("tcp:"):]
        host, sep, port = rest.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"{address!r}: expected tcp:HOST:PORT")
        return "tcp", (host.strip("[]") or "127.0.0.1", int(port))
    raise ValueError(f"{address!r} is not a socket address (unix:PATH or tcp:HOST:PORT)")


def is_socket_address(dest) -> bool:
    return isinstance(dest, str) and (dest.startswith("unix:") or dest.startswith("tcp:"))


def connect(address: str, timeout: float = None) -> socket.socket:
    """A connected stream socket to `address`."""
    kind, target = parse_address(address)
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in target[0] else socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(target)
    except BaseException:
        sock.close()
        raise
    if kind == "tcp":
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(None)
    return sock


class Sink:
    """A byte sink with `write` and `close`; closes only what it opened."""

    def __init__(self, write, close):
        self.write = write
        self._close = close

    def close(self):
        self._close()


def open_sink(dest) -> Sink:
    """A sink for `dest`: a socket address, `-` (stdout), a path, or a writable file object."""
    if is_socket_address(dest):
        sock = connect(dest)

        def close_socket():
            # End of input for the daemon; it keeps deciding what it read.
            try:
                sock.shutdown(socket.SHUT_WR)
            finally:
                sock.close()
        return Sink(sock.sendall, close_socket)
    if isinstance(dest, (str, os.PathLike)):
        if str(dest) == "-":
            import sys
            out = sys.stdout.buffer
            return Sink(out.write, out.flush)
        handle = open(dest, "wb")
        return Sink(handle.write, handle.close)
    if hasattr(dest, "write"):
        target = getattr(dest, "buffer", dest)  # a text stream's binary buffer (sys.stdout)
        return Sink(target.write, getattr(target, "flush", lambda: None))
    raise TypeError(f"cannot write records to {dest!r}: give a path, a file object, unix:PATH or tcp:HOST:PORT")
