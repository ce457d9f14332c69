"""The one part of Dockyard that pyproject.toml cannot declare: the C extension of kernel/."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("dockyard.kernel._native", ["src/dockyard/kernel/_native.c"])])
