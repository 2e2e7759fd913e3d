"""`flowport dev`'s development admin: a principal with every scope, and its key in a file of its own, so
that the README's examples work with `-H "X-API-Key: $(cat .flowport/dev-admin-key)"`; beside it the
secret that signs the callbacks it starts (`.flowport/dev-webhook-secret`), for a local receiver.

The key file is reused while its key still authenticates against the (restored) table; otherwise, as on
a first start or a start without `--state-dir` (whose table is new), a new admin and key replace it.
"""

from __future__ import annotations

import time
from pathlib import Path

from flowport import services
from flowport.core import credentials
from flowport.local.files import write_atomically

DEV_ADMIN = "dev-admin"
KEY_FILE = "dev-admin-key"
WEBHOOK_SECRET_FILE = "dev-webhook-secret"
DEFAULT_DIRECTORY = Path(".flowport")  # git-ignored


def dev_admin_key(directory: Path) -> tuple[str, Path]:
    """The development admin's key, and the file that holds it (mode 0600)."""
    path = directory / KEY_FILE
    if path.is_file():
        kept = path.read_text(encoding="utf-8").strip()
        if _authenticates(kept):
            return kept, path
    secret = services.manage_principals().bootstrap_admin(DEV_ADMIN).secret
    # Never a half-written key file; its temporary file, and so the key file, is mode 0600 (mkstemp's).
    write_atomically(path, (secret + "\n").encode())
    return secret, path


def dev_webhook_secret(directory: Path, key: str) -> tuple[str, Path]:
    """The signing secret of the callbacks the development admin (of `key`) starts, and its file (mode
    0600): kept while the table still holds it, else a new one, as for the key."""
    credential = services.principal_store().api_key(credentials.key_hash(key))
    assert credential is not None  # dev_admin_key just checked or made it
    path = directory / WEBHOOK_SECRET_FILE
    stored = services.delivery_store().secrets(credential.principal_id)
    if path.is_file() and stored is not None and path.read_text(encoding="utf-8").strip() == stored.current:
        return stored.current, path
    secret = services.rotate_webhook_secret().rotate(credential.principal_id)
    write_atomically(path, (secret + "\n").encode())
    return secret, path


def _authenticates(secret: str) -> bool:
    if not credentials.looks_like_a_key(secret):
        return False
    found = services.principal_store().api_key(credentials.key_hash(secret))
    return found is not None and not found.expired(time.time())
