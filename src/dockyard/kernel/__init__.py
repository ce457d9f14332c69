"""Thin wrappers over the kernel: the only package in Dockyard that calls libc.

Everything here raises OSError with the errno and a message that names the
operation and the path, so that callers up the stack can say which step failed.
Modules are kept import-light: the runtime CLI's start-up time is a feature.
"""
