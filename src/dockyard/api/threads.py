"""Service calls off the event loop: they touch the disk, SQLite and the kernel, and some wait."""

from __future__ import annotations

import asyncio
import functools


async def blocking(func, *args, **kwargs):
    """func(*args, **kwargs) in the default executor's threads; its result or its exception."""
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(func, *args, **kwargs))
