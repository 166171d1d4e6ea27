"""File storage outside the web root, under generated names.

`STORAGE_BACKEND` chooses where: "local" (a folder, `UPLOAD_DIR`; the embedded default) or
"s3" (a bucket of Amazon S3 or any S3-compatible service: MinIO, Aliyun OSS, ...). Both take
the same keys and behave the same, so callers never know which one they use.
"""
import io
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, appcontext_tearing_down, current_app, g, has_app_context

ALLOWED_SUFFIXES = {".jpg", ".pdf", ".xlsx"}
BACKENDS = ("local", "s3")
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class Storage(Protocol):
    def save(self, data: bytes, suffix: str) -> str: ...
    def save_as(self, key: str, data: bytes) -> str: ...
    def open(self, key: str) -> BinaryIO: ...
    def exists(self, key: str) -> bool: ...
    def path_of(self, key: str) -> Path: ...
    def delete(self, key: str) -> None: ...


def new_key(suffix: str) -> str:
    """A fresh random name with one of the allowed suffixes."""
    if suffix not in ALLOWED_SUFFIXES:
        raise ValueError(f"unsupported suffix {suffix}")
    return secrets.token_hex(16) + suffix


def check_key(key: str) -> str:
    """The key itself if it is one of ours: a bare alphanumeric name with an allowed suffix."""
    name = Path(key).name  # keys are ours; never follow a path from outside
    stem, suffix = name.split(".", 1) if "." in name else (name, "")
    if name != key or not stem.isalnum() or f".{suffix}" not in ALLOWED_SUFFIXES:
        raise ValueError("bad storage key")
    return key


class LocalStorage:
    """Files in UPLOAD_DIR, spread over two-character folders."""

    def __init__(self, root: str):
        self.root = Path(root)

    def save(self, data: bytes, suffix: str) -> str:
        key = new_key(suffix)
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

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def path_of(self, key: str) -> Path:
        """A local path for tools that need one (OCR, pictures in PDFs): the file itself."""
        return self._path(key)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def _path(self, key: str) -> Path:
        name = check_key(key)
        return self.root / name[:2] / name


class S3Storage:
    """Objects in an S3 bucket, named S3_PREFIX + key (no folders needed)."""

    # Files up to this size are read into memory by open(); larger ones go to a temporary file.
    IN_MEMORY_BYTES = 8 * 1024 * 1024

    def __init__(self, client, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix

    def save(self, data: bytes, suffix: str) -> str:
        return self.save_as(new_key(suffix), data)

    def save_as(self, key: str, data: bytes) -> str:
        """Write data under the key, replacing any object there (a PUT is atomic in S3)."""
        self.client.put_object(Bucket=self.bucket, Key=self._name(key), Body=data,
                               ContentType=CONTENT_TYPES[Path(key).suffix])
        return key

    def open(self, key: str) -> BinaryIO:
        """The object's bytes as a file positioned at the start (flask.send_file serves it)."""
        answer = self._get(key)
        with answer["Body"] as body:
            if answer["ContentLength"] <= self.IN_MEMORY_BYTES:
                return io.BytesIO(body.read())
            copy = tempfile.TemporaryFile()
            shutil.copyfileobj(body, copy, 1024 * 1024)
        copy.seek(0)
        return copy

    def exists(self, key: str) -> bool:
        name = self._name(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except Exception as error:
            if _missing(error):
                return False
            raise
        return True

    def path_of(self, key: str) -> Path:
        """A local copy for tools that need a path (OCR, pictures in PDFs).

        The copy is a temporary file deleted when the current app context ends (the request,
        the task or the CLI command): read it there, and do not keep the path. Outside an app
        context the caller deletes it.
        """
        answer = self._get(key)
        fd, copy_name = tempfile.mkstemp(prefix="jianpei-", suffix=Path(key).suffix)
        path = Path(copy_name)
        try:
            with os.fdopen(fd, "wb") as copy, answer["Body"] as body:
                shutil.copyfileobj(body, copy, 1024 * 1024)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        if has_app_context():
            g.setdefault("_storage_copies", []).append(path)
        return path

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def _get(self, key: str) -> dict:
        name = self._name(key)
        try:
            return self.client.get_object(Bucket=self.bucket, Key=name)
        except Exception as error:
            if _missing(error):
                raise FileNotFoundError(f"no stored file {key}") from error
            raise

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)


def _missing(error: BaseException) -> bool:
    """botocore's answer for an object that is not there (LocalStorage raises FileNotFoundError)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) in ("404", "NoSuchKey", "NotFound")


def _remove_copies(_app: Flask, **_extra) -> None:
    for path in g.pop("_storage_copies", ()):
        path.unlink(missing_ok=True)


appcontext_tearing_down.connect(_remove_copies)

_client_lock = threading.Lock()


def s3_client(app: Flask):
    """The app's boto3 S3 client, made once (clients are thread-safe; sessions are not)."""
    client = app.extensions.get("jianpei_s3")
    if client is None:
        with _client_lock:
            client = app.extensions.get("jianpei_s3")
            if client is None:
                client = app.extensions["jianpei_s3"] = make_s3_client(app.config)
    return client


def make_s3_client(config):
    import boto3  # only S3 deployments pay for importing it
    from botocore.config import Config

    credentials = {}
    if config.get("S3_ACCESS_KEY_ID"):  # else boto3's chain: AWS_* variables, profile, instance role
        credentials = {"aws_access_key_id": config["S3_ACCESS_KEY_ID"],
                       "aws_secret_access_key": config.get("S3_SECRET_ACCESS_KEY")}
    return boto3.session.Session().client(
        "s3",
        endpoint_url=config.get("S3_ENDPOINT_URL") or None,
        region_name=config.get("S3_REGION") or None,
        config=Config(signature_version="s3v4",
                      s3={"addressing_style": config.get("S3_ADDRESSING_STYLE") or "auto"},
                      connect_timeout=5, read_timeout=30,
                      retries={"mode": "standard", "max_attempts": 5}),
        **credentials,
    )


def s3_prefix(config) -> str:
    """S3_PREFIX as a folder ("jianpei" -> "jianpei/"); empty means the bucket's top level."""
    prefix = (config.get("S3_PREFIX") or "").strip("/")
    return prefix + "/" if prefix else ""


def storage() -> Storage:
    """The configured backend for the current app."""
    config = current_app.config
    backend = config.get("STORAGE_BACKEND", "local")
    if backend == "s3":
        return S3Storage(s3_client(current_app._get_current_object()), config["S3_BUCKET"],
                         s3_prefix(config))
    if backend == "local":
        return LocalStorage(config["UPLOAD_DIR"])
    raise RuntimeError(f"STORAGE_BACKEND must be one of {BACKENDS}, not {backend!r}")


def content_type(key: str) -> str:
    """The content type of what is stored under `key` (by its suffix: .jpg, .pdf, .xlsx).
    Views serve stored files (views/files.py)."""
    return CONTENT_TYPES[Path(key).suffix]


def delete_files(keys) -> None:
    """Delete these stored files (as an after-commit or after-rollback callback)."""
    for key in keys:
        if key:
            storage().delete(key)
