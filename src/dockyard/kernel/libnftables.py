"""libnftables, the library behind the nft command, called in-process through ctypes.

The nft command costs a process start per call (5-10 ms on a loaded machine);
the library runs the same commands, in nft's own syntax, in well under a
millisecond. Netfilter ships its Python binding only as a Debian package
(python3-nftables), outside our virtualenv; this is the handful of calls it
wraps (nftables/libnftables.h):

    struct nft_ctx *nft_ctx_new(uint32_t flags);
    void nft_ctx_output_set_flags(struct nft_ctx *ctx, unsigned int flags);
    int nft_ctx_buffer_output(struct nft_ctx *ctx);     const char *nft_ctx_get_output_buffer(...);
    int nft_ctx_buffer_error(struct nft_ctx *ctx);      const char *nft_ctx_get_error_buffer(...);
    int nft_run_cmd_from_buffer(struct nft_ctx *nft, const char *buf);
    void nft_ctx_free(struct nft_ctx *ctx);

A context is not thread-safe: each call holds the instance's lock.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading

_NFT_CTX_DEFAULT = 0
OUTPUT_HANDLE = 1 << 3
OUTPUT_JSON = 1 << 4
OUTPUT_ECHO = 1 << 5


def _socket_fds() -> set[int]:
    found = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                found.add(int(name))
    return found


class NftError(Exception):
    """A command libnftables refused; the message is nft's own error text."""


class NftContext:
    """One libnftables context with buffered output and errors. OSError when the library is missing."""

    def __init__(self, library: str = "libnftables.so.1") -> None:
        lib = ctypes.CDLL(library)
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = (ctypes.c_uint32,)
        lib.nft_ctx_free.argtypes = (ctypes.c_void_p,)
        lib.nft_ctx_output_set_flags.argtypes = (ctypes.c_void_p, ctypes.c_uint)
        lib.nft_ctx_buffer_output.argtypes = (ctypes.c_void_p,)
        lib.nft_ctx_buffer_error.argtypes = (ctypes.c_void_p,)
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = (ctypes.c_void_p,)
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = (ctypes.c_void_p,)
        lib.nft_run_cmd_from_buffer.argtypes = (ctypes.c_void_p, ctypes.c_char_p)
        self._lib = lib
        before = _socket_fds()
        self._ctx = lib.nft_ctx_new(_NFT_CTX_DEFAULT)
        if not self._ctx:
            raise OSError("nft_ctx_new failed")
        # libnftables 1.0 opens its netlink socket here without SOCK_CLOEXEC and offers no way to
        # reach it: without this, every process the daemon execs (shims, hence containers) would
        # inherit a netfilter socket of the host's network namespace.
        for fd in _socket_fds() - before:
            os.set_inheritable(fd, False)
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)
        self._lock = threading.Lock()

    def run(self, commands: str, flags: int = 0) -> str:
        """Run commands (one transaction); their output. NftError with nft's message when refused."""
        with self._lock:
            if not self._ctx:
                raise NftError("the libnftables context is closed")
            self._lib.nft_ctx_output_set_flags(self._ctx, flags)
            status = self._lib.nft_run_cmd_from_buffer(self._ctx, commands.encode())
            # Reading a buffer also empties it for the next command.
            output = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
            errors = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if status != 0:
            raise NftError(errors.strip() or f"nft: {commands.strip()!r} failed")
        return output

    def close(self) -> None:
        """Free the context (and its netlink socket); idempotent."""
        with self._lock:
            if self._ctx:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None

    def __del__(self) -> None:
        if getattr(self, "_ctx", None):
            self.close()
