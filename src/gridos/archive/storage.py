"""Where the Parquet files live: a local directory or Azure Blob Storage / ADLS Gen2, behind one small
interface. Paths are relative, '/'-separated, and the same on every backend
(`samples/day=2026-11-01/site=north/part-g1.parquet`), so Spark, Synapse or DuckDB read either with the
same layout.

Writes are atomic on both backends (rename of a synced temporary file; a block blob is visible only once
its upload commits), so a crash never leaves half a file under a catalogued name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from gridos.archive.config import ArchiveSettings


class ArchiveError(Exception):
    """The cold tier could not be read or written (configuration, storage, checksum)."""


class ArchiveStorage(Protocol):
    url: str

    def put(self, path: str, data: bytes) -> None: ...
    def get(self, path: str) -> bytes: ...
    def delete(self, path: str) -> None: ...
    def list(self, prefix: str) -> list[str]: ...
    def local_copy(self, path: str, sha256: str) -> Path:
        """A local file with exactly the catalogued content (for DuckDB)."""
        ...


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def _file(self, path: str) -> Path:
        target = (self.root / path).resolve()
        if not target.is_relative_to(self.root.resolve()):
            raise ArchiveError(f"path {path!r} leaves the archive directory")
        return target

    def put(self, path: str, data: bytes) -> None:
        target = self._file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        # The rename itself must survive power loss before the catalog may point at it.
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def get(self, path: str) -> bytes:
        try:
            return self._file(path).read_bytes()
        except FileNotFoundError:
            raise ArchiveError(f"{path} is missing from {self.url}") from None

    def delete(self, path: str) -> None:
        self._file(path).unlink(missing_ok=True)

    def list(self, prefix: str) -> list[str]:
        base = self._file(prefix) if prefix else self.root
        if not base.exists():
            return []
        return sorted(
            str(p.relative_to(self.root)) for p in base.rglob("*.parquet") if not p.name.startswith(".")
        )

    def local_copy(self, path: str, sha256: str) -> Path:
        # The file is the copy; it was verified when written, and re-hashing on every query would cost
        # more than the query. `gridos archive --verify` re-checks every file.
        target = self._file(path)
        if not target.exists():
            raise ArchiveError(f"{path} is missing from {self.url}")
        return target


_ABFS = re.compile(r"^(abfss?|az)://(?P<container>[^@/]+)@(?P<account>[^./]+)[^/]*(?:/(?P<prefix>.*))?$")


class AzureBlobStorage:
    """Block blobs in one container (HNS on or off; the Blob endpoint serves both). Credentials: a
    connection string (Azurite) or DefaultAzureCredential (workload identity, no shared keys)."""

    def __init__(self, location: str, connection_string: str, cache_dir: Path) -> None:
        from azure.storage.blob import BlobServiceClient

        m = _ABFS.match(location)
        if not m:
            raise ArchiveError(
                f"GRIDOS_ARCHIVE_LOCATION {location!r}: expected abfs://<container>@<account>.dfs.core.windows.net/<prefix>"
            )
        self.url = location
        self.prefix = (m["prefix"] or "").strip("/")
        self.cache_dir = cache_dir
        if connection_string:
            service = BlobServiceClient.from_connection_string(connection_string)
        else:
            from azure.identity import DefaultAzureCredential

            service = BlobServiceClient(
                f"https://{m['account']}.blob.core.windows.net", credential=DefaultAzureCredential()
            )
        self.container = service.get_container_client(m["container"])

    def _name(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def put(self, path: str, data: bytes) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.container.upload_blob(self._name(path), data, overwrite=True)
        except ResourceNotFoundError:
            # First write to a fresh account: the container does not exist yet (Terraform creates it in
            # Azure; Azurite starts empty).
            self.container.create_container()
            self.container.upload_blob(self._name(path), data, overwrite=True)

    def get(self, path: str) -> bytes:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            return bytes(self.container.download_blob(self._name(path)).readall())
        except ResourceNotFoundError:
            raise ArchiveError(f"{path} is missing from {self.url}") from None
        except AzureError as exc:
            # Unreachable account, throttling, a blob in the archive tier: one domain error for callers.
            raise ArchiveError(f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0]}") from None

    def delete(self, path: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        with contextlib.suppress(ResourceNotFoundError):
            self.container.delete_blob(self._name(path))

    def list(self, prefix: str) -> list[str]:
        from azure.core.exceptions import ResourceNotFoundError

        start = len(self.prefix) + 1 if self.prefix else 0
        try:
            return sorted(
                b.name[start:]
                for b in self.container.list_blobs(name_starts_with=self._name(prefix))
                if b.name.endswith(".parquet")
            )
        except ResourceNotFoundError:
            return []

    def local_copy(self, path: str, sha256: str) -> Path:
        # Content-addressed cache: a name can never point at other bytes, and a file is only ever moved
        # into place after its checksum matched the catalog.
        target = self.cache_dir / sha256[:2] / f"{sha256}.parquet"
        if target.exists():
            return target
        data = self.get(path)
        if sha256_hex(data) != sha256:
            raise ArchiveError(f"{path}: checksum differs from the catalog")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)
        return target


def open_storage(settings: ArchiveSettings) -> ArchiveStorage:
    location = settings.location.strip()
    if not location:
        raise ArchiveError("the cold tier is off: set GRIDOS_ARCHIVE_LOCATION")
    scheme = urlparse(location).scheme
    if scheme in ("abfs", "abfss", "az"):
        return AzureBlobStorage(
            location, settings.azure_connection_string.get_secret_value(), settings.cache_dir
        )
    if scheme in ("", "file"):
        root = Path(urlparse(location).path if scheme == "file" else location)
        return LocalStorage(root)
    raise ArchiveError(f"GRIDOS_ARCHIVE_LOCATION: unsupported scheme {scheme!r} (a directory or abfs://...)")
