"""A function's init without garbage collection passes over what it imports.

Importing boto3, pydantic, Powertools and flowport allocates some 55,000 objects that live as long as the
container. CPython's collector keeps scanning them while they are created: dozens of young passes, then
its first full pass, which alone took about 70 ms of the API functions' cold start (`make bench`, figure
1) and finds almost nothing to free (under a thousand objects, from import machinery). `init_phase` turns
the collector off while a function's module loads, then freezes what exists (gc.freeze: those objects
are never scanned again, rather than once at the first request) and turns it back on for the requests.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def init_phase() -> Iterator[None]:
    """Around everything a function's module does at import (first in it, before any other import)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
