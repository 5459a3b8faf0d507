"""The C part of the build (everything else is in pyproject.toml): the sampler's candidate pass,
``desktop_app/engine/_candidates.c``, plain C against the Python headers, no other dependency.

-O3 because its one hot loop must be vectorised, and GCC does not vectorise it at the -O2 some
Pythons (Debian's) build extensions with.  MSVC's default /O2 already does.
"""

import sys

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "desktop_app.engine._candidates",
            ["desktop_app/engine/_candidates.c"],
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
        )
    ]
)
