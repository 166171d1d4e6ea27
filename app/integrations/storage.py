"""File storage outside the web root, under generated names."""
import os
import secrets
from pathlib import Path

from flask import current_app

ALLOWED_SUFFIXES = {".jpg", ".pdf", ".xlsx"}


class LocalStorage:
    """Files in UPLOAD_DIR, spread over two-character folders."""

    def __init__(self, root: str):
        self.root = Path(root)

    def save(self, data: bytes, suffix: str) -> str:
        if suffix not in ALLOWED_SUFFIXES:
            raise ValueError(f"unsupported suffix {suffix}")
        key = secrets.token_hex(16) + suffix
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        return key

    def save_as(self, key: str, data: bytes) -> str:
        """Write data under a key we chose (e.g. from an invoice number), replacing any file there.

        Atomic: readers see the old file or the new one. The .part name is unique so that two
        writers of the same key never share a half-written file.
        """
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{secrets.token_hex(8)}.part")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return key

    def open(self, key: str):
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def path_of(self, key: str) -> Path:
        """A local path for tools that need one (OCR)."""
        return self._path(key)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        name = Path(key).name  # keys are ours; never follow a path from outside
        stem, suffix = name.split(".", 1) if "." in name else (name, "")
        if name != key or not stem.isalnum() or f".{suffix}" not in ALLOWED_SUFFIXES:
            raise ValueError("bad storage key")
        return self.root / name[:2] / name


def storage() -> LocalStorage:
    return LocalStorage(current_app.config["UPLOAD_DIR"])


def send_jpeg(key, download_name=None):
    """A stored picture as the response, or 404 if there is none."""
    from flask import abort, send_file

    if not key or not storage().exists(key):
        abort(404)
    return send_file(storage().open(key), mimetype="image/jpeg", download_name=download_name,
                     max_age=0)
