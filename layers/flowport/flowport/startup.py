"""A function's init: no garbage collection passes over what it imports, and the AWS SDK imported first.

Importing boto3, pydantic, Powertools and flowport allocates some 55,000 objects that live as long as the
container. CPython's collector keeps scanning them while they are created: dozens of young passes, then
its first full pass, which alone took about 70 ms of the API functions' cold start (`make bench`, figure
1) and finds almost nothing to free (under a thousand objects, from import machinery). `init_phase` turns
the collector off while a function's module loads, then freezes what exists (gc.freeze: those objects
are never scanned again, rather than once at the first request) and turns it back on for the requests.

boto3 comes first because of where urllib3 (under botocore) compiles its URL and IPv6 patterns: late in
the init, with pydantic's and Powertools' objects already filling the allocator's pools, each of those
compiles took fresh memory from the OS and gave it back, some hundreds of page faults apiece; imported
first, as in a bare `import boto3`, they fit in the memory the interpreter already has. In figure 1 that
was 8-15% of each API function's cold start. It rests on the allocator's state, not on a contract, so the
figure is the check.
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
        import boto3  # noqa: F401  (first: see the module's docstring)

        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
