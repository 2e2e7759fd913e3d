"""The web console's files (functions/console/assets/), read once per container (again after an edit), each
with its media type and an ETag, and the headers every console answer carries.

The console is static: HTML, CSS and JavaScript that call the public API from the same origin with the
key the user enters. So its Content-Security-Policy allows scripts, styles and connections to this origin
only (`'self'`), no inline script or style, no frames, no plugins: a value from an execution that slipped
into the page as markup could still not run.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# A file name the console may have: no folders, no dot files, so no path reaches outside its folder.
ASSET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,63}$")
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Not cached without asking: a deploy changes the files under the same names, and an ETag makes
    # asking cheap (a 304 without a body).
    "Cache-Control": "no-cache",
}


@dataclass(frozen=True)
class Asset:
    body: str
    media_type: str
    etag: str


def load_assets(folder: Path) -> Mapping[str, Asset]:
    """Every file of `folder` with a known media type, by name."""
    assets = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else ():
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type and path.is_file() and ASSET_NAME.match(path.name):
            body = path.read_text(encoding="utf-8")
            digest = hashlib.sha256(body.encode()).hexdigest()[:32]
            assets[path.name] = Asset(body, media_type, f'"{digest}"')
    return assets


def assets_in(folder: Path) -> Mapping[str, Asset]:
    """The folder's files as they are now: read again only when one changed (its modification time or size:
    two writes within one clock tick keep the time), which on Lambda is never, and under `flowport dev` is
    an edit, seen at the next request without a restart. Looking costs a stat per file, some microseconds."""
    files = sorted(folder.iterdir()) if folder.is_dir() else []
    stamps = tuple((path.name, *_stamp(path)) for path in files)
    return _assets_as_of(folder, stamps)


def _stamp(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_mtime_ns, status.st_size


@lru_cache(maxsize=2)
def _assets_as_of(folder: Path, stamps: tuple[tuple[str, int, int], ...]) -> Mapping[str, Asset]:  # noqa: ARG001
    return load_assets(folder)


def not_modified(asset: Asset, if_none_match: str | None) -> bool:
    """Whether the client's copy is this one (RFC 9110 If-None-Match: a list of ETags, or *)."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or asset.etag in tags
