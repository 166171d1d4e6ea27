"""Zip archives as users send them (photos in bulk) and as attackers shape them."""
import io
import stat
import zipfile
from collections.abc import Iterable

# A fixed time in every entry: an archive built while pytest collects its parameters is then the
# same bytes in both pytest-xdist workers (zipfile stamps entries with the current time, to
# two seconds, and differing parameters stop the run).
_STAMP = (2026, 1, 1, 0, 0, 0)


def zip_bytes(entries: Iterable[tuple[str, bytes]], symlink: str | None = None) -> bytes:
    """An archive of (name, data) entries; with `symlink`, also a link of that name."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries:
            archive.writestr(zipfile.ZipInfo(name, date_time=_STAMP), data)
        if symlink:
            info = zipfile.ZipInfo(symlink, date_time=_STAMP)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return out.getvalue()
