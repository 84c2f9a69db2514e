"""A private network for a test or a benchmark: the calling thread moves into a new network namespace with only
loopback up, and every process it starts meanwhile lives there; the thread moves back afterwards.

Why: a Ray cluster of two nodes advertises the machine's outward address, even when told 127.0.0.1, unless
loopback is the only interface there is. Inside the namespace it is, so every socket stays on 127.0.0.1, and
the namespace goes away with the last process in it. Needs CAP_SYS_ADMIN (root)."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_libc = ctypes.CDLL(None, use_errno=True)


class NoPrivateNetwork(PermissionError):
    """This process may not make network namespaces (not root)."""


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sh", b"lo", flags | IFF_UP))


@contextmanager
def private_network() -> Iterator[None]:
    """Run the body (and what it starts) in a new network namespace; only the calling thread moves, so
    sockets and processes made on other threads stay outside."""
    home = os.open(f"/proc/self/task/{threading.get_native_id()}/ns/net", os.O_RDONLY)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            if code == errno.EPERM:
                raise NoPrivateNetwork("a private network namespace needs root (CAP_SYS_ADMIN)")
            _check(-1, "unshare(CLONE_NEWNET)")
        try:
            _loopback_up()
            yield
        finally:
            _check(_libc.setns(home, CLONE_NEWNET), "setns back to the test's own network")
    finally:
        os.close(home)
