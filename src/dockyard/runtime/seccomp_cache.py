"""Compiled seccomp filters kept under the runtime's root, one file per distinct linux.seccomp object.

Every container of an engine gets one of a handful of profiles (docker's default, adjusted to the
capabilities), and compiling one costs a millisecond or more on the path of every create, in a worker
forked for that one container, so that nothing it learns outlives it. A file is what such a worker can
leave to the next one.

The file's name is a digest of everything the program depends on: the profile as JSON, this host's
architecture, and the compiler itself (the size and modification time of its modules, so that a new
version of Dockyard never reads an old version's program). The file holds the program's own digest
before it, checked at every read: a file that does not match (cut short by a crash: it is written
without fsync, being only a cache) is compiled again and replaced. What this returns is thus always
byte for byte what compile_filter returns for the profile.
"""

from __future__ import annotations

import json
import os

from dockyard.kernel import seccomp

# CPython's own SHA-256, not hashlib's: hashlib loads OpenSSL's libcrypto (≈ 3.6 MiB resident), and the
# shim template imports this module, where every MiB counts against the daemon's idle memory.
try:
    from _sha2 import sha256  # Python 3.12 and later
except ImportError:
    from _sha256 import sha256  # Python 3.11

# A name no container id can take (state.check_id refuses '@'), so it never shadows a container's state.
DIRECTORY = "@seccomp"
_DIGEST = sha256().digest_size
# The compiler and its syscall tables, by path: importing the tables (≈ 5 ms in a fresh fork) is for a miss only.
_COMPILER = (seccomp.__file__, os.path.join(os.path.dirname(seccomp.__file__), "syscalls.py"))


def compiled(spec: dict, root: str) -> bytes:
    """compile_filter(spec), from the cache under root when an earlier create compiled the same."""
    directory = os.path.join(root, DIRECTORY)
    path = os.path.join(directory, _key(spec) + ".bpf")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        data = b""
    digest, program = data[:_DIGEST], data[_DIGEST:]
    if program and sha256(program).digest() == digest:
        return program
    program = seccomp.compile_filter(spec)
    _store(directory, path, sha256(program).digest() + program)
    return program


def _key(spec: dict) -> str:
    stamp = [(info.st_size, info.st_mtime_ns) for info in map(os.stat, _COMPILER)]
    return sha256(json.dumps([spec, os.uname().machine, stamp]).encode()).hexdigest()


def _store(directory: str, path: str, data: bytes) -> None:
    os.makedirs(directory, mode=0o700, exist_ok=True)
    temp = f"{path}.{os.getpid()}.tmp"  # creates of other containers may write the same entry meanwhile
    with open(temp, "wb") as f:
        f.write(data)
    os.rename(temp, path)
