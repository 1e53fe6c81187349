"""The file rules of the emulated file exchange: one account, one home, nothing outside it.

`ConfinedSFTPServer` is an asyncssh SFTP server that knows no Django. Every path a client names
is resolved to a real path on disk before anything is done with it:

- The path is normalised as the client's own (`/a/../b` is `/b`; nothing climbs above `/`), then
  placed under the account's home. Any symbolic link met on the way (a folder or the file itself)
  makes the path unusable: the account cannot create links (symlink and hard link requests are
  refused) and the exchange never creates one, so a link there was planted, and following it
  could lead anywhere the server process can read. Files are opened with O_NOFOLLOW, and a file
  with a second hard link is refused, for the same reason.
- Only the upload folders (OCLC's `in/bib` and `in/lhr`) can be written: files and folders inside
  them may be created, written, renamed, removed. Everything else, the reports folder in
  particular (OCLC writes it, and Alma's Fetch OCLC reports trusts what is there), is read-only.
- The upload folders hold at most `Quota.max_bytes` bytes in `Quota.max_files` entries per
  account. A write that would pass the limit is refused and the file it was writing is discarded
  (emptied and unlinked), so nothing half-written is ever handed in. Sizes are apparent sizes: a
  sparse file counts with its holes, as it is read back whole.
- Error messages name only the client's own paths, never the server's.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import posixpath
import stat as stat_module
from dataclasses import dataclass

import asyncssh
from asyncssh import (
    ACE4_APPEND_DATA,
    ACE4_READ_DATA,
    ACE4_WRITE_DATA,
    FXF_ACCESS_DISPOSITION,
    FXF_APPEND,
    FXF_APPEND_DATA,
    FXF_CREAT,
    FXF_CREATE_NEW,
    FXF_CREATE_TRUNCATE,
    FXF_EXCL,
    FXF_OPEN_OR_CREATE,
    FXF_READ,
    FXF_TRUNC,
    FXF_TRUNCATE_EXISTING,
    FXF_WRITE,
    SFTPAttrs,
    SFTPFailure,
    SFTPNoSuchFile,
    SFTPOpUnsupported,
    SFTPPermissionDenied,
)

logger = logging.getLogger("datasync.filex")

# Files are always readable and writable by the server itself (intake reads them, pickup removes
# them), whatever mode a client asks for; setuid, setgid and sticky bits are never granted.
FILE_MODE_FLOOR, DIR_MODE_FLOOR, MODE_CEILING = 0o600, 0o700, 0o755


@dataclass(frozen=True)
class Quota:
    """What one account's upload folders may hold at once."""

    max_bytes: int
    max_files: int

    def describe(self) -> str:
        return f"{self.max_bytes:,} bytes in {self.max_files:,} files and folders"


class Usage:
    """What an account's upload folders hold now. One per account, shared by its sessions.

    Recounted from disk at every open, close, rename and removal; between those, each write adds
    what it grew the file by. All sessions run on one event loop, and no write awaits between
    the check and the write, so two sessions of an account cannot both pass the last byte.
    """

    def __init__(self) -> None:
        self.bytes = 0
        self.files = 0

    def recount(self, folders: list[bytes]) -> None:
        total = count = 0
        pending = list(folders)
        while pending:
            try:
                entries = list(os.scandir(pending.pop()))
            except OSError:
                continue
            for entry in entries:
                count += 1
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
        self.bytes, self.files = total, count


class ExchangeFile(io.FileIO):
    """An open file, with what the server needs to know about it."""

    virtual: bytes = b""
    local: bytes = b""
    writing: bool = False
    discarded: bool = False


class ConfinedSFTPServer(asyncssh.SFTPServer):
    """SFTP for one account: confined to its home, written only in its upload folders."""

    def __init__(
        self,
        chan: asyncssh.SSHServerChannel,
        *,
        home: str | os.PathLike,
        upload_folders: tuple[str, ...],
        quota: Quota,
        usage: Usage,
    ) -> None:
        self.username = chan.get_extra_info("username")
        self.home = os.fsencode(os.path.realpath(home))
        super().__init__(chan, chroot=self.home)
        self.upload_folders = [self._join(os.fsencode(f)) for f in upload_folders]
        self.quota = quota
        self.usage = usage
        self.usage.recount(self.upload_folders)

    # --- paths -------------------------------------------------------------------------------

    @staticmethod
    def _virtual(path: bytes) -> bytes:
        """The client's path, normalised: absolute, no "." or "..", never above "/"."""
        normal = posixpath.normpath(posixpath.join(b"/", path))
        return b"/" + normal.lstrip(b"/")

    def _join(self, virtual: bytes) -> bytes:
        rest = self._virtual(virtual).lstrip(b"/")
        return posixpath.join(self.home, rest) if rest else self.home

    def map_path(self, path: bytes) -> bytes:
        """The local path of a client path, refused when any part of it is a symbolic link."""
        if b"\x00" in path:
            raise SFTPNoSuchFile("No such file")
        local = self._join(path)
        if os.path.realpath(local) != local:
            self._refuse("follow a link at", path)
            raise SFTPNoSuchFile("No such file")
        return local

    def _writable(self, path: bytes, action: str) -> bytes:
        local = self.map_path(path)
        if not any(local.startswith(folder + b"/") for folder in self.upload_folders):
            self._refuse(action, path)
            raise SFTPPermissionDenied(self._read_only_reason())
        return local

    def _read_only_reason(self) -> str:
        folders = " and ".join(os.fsdecode(f[len(self.home) :]) for f in self.upload_folders)
        return f"Permission denied: only files in {folders} can be written here."

    def _refuse(self, action: str, path: bytes) -> None:
        logger.warning(
            "file exchange: %s tried to %s %s: refused",
            self.username,
            action,
            os.fsdecode(self._virtual(path)),
        )

    # --- links: never --------------------------------------------------------------------------

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        self._refuse("create a symbolic link at", newpath)
        raise SFTPPermissionDenied("Symbolic links cannot be created on this server.")

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        self._refuse("create a hard link at", newpath)
        raise SFTPPermissionDenied("Hard links cannot be created on this server.")

    def readlink(self, path: bytes) -> bytes:
        self.map_path(path)
        raise SFTPOpUnsupported("This server has no symbolic links.")

    # --- opening, reading, writing -----------------------------------------------------------

    def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> ExchangeFile:
        writing = bool(pflags & (FXF_WRITE | FXF_APPEND | FXF_CREAT | FXF_TRUNC))
        if not writing:
            return self._open(path, os.O_RDONLY, "rb", attrs)
        local = self._writable(path, "write")
        flags = os.O_RDWR if pflags & FXF_READ else os.O_WRONLY
        if pflags & FXF_APPEND:
            flags |= os.O_APPEND
        if pflags & FXF_CREAT:
            flags |= os.O_CREAT
        if pflags & FXF_TRUNC:
            flags |= os.O_TRUNC
        if pflags & FXF_EXCL:
            flags |= os.O_EXCL
        if flags & os.O_CREAT and not os.path.lexists(local):
            self.usage.recount(self.upload_folders)
            if self.usage.files + 1 > self.quota.max_files:
                self._over_quota(path, "create")
        mode = ("ab" if flags & os.O_APPEND else "wb") + ("+" if flags & os.O_RDWR else "")
        file_obj = self._open(path, flags, mode, attrs, local=local)
        file_obj.writing = True
        self.usage.recount(self.upload_folders)  # a truncated file holds less from now on
        return file_obj

    def open56(
        self, path: bytes, desired_access: int, flags: int, attrs: SFTPAttrs
    ) -> ExchangeFile:
        """SFTP v5 and v6 (WinSCP speaks 6): the same rules, translated to v3 flags."""
        pflags = 0
        if desired_access & ACE4_READ_DATA:
            pflags |= FXF_READ
        if desired_access & (ACE4_WRITE_DATA | ACE4_APPEND_DATA):
            pflags |= FXF_WRITE
        if desired_access & ACE4_APPEND_DATA or flags & FXF_APPEND_DATA:
            pflags |= FXF_APPEND
        pflags |= {
            FXF_CREATE_NEW: FXF_CREAT | FXF_EXCL,
            FXF_CREATE_TRUNCATE: FXF_CREAT | FXF_TRUNC,
            FXF_OPEN_OR_CREATE: FXF_CREAT,
            FXF_TRUNCATE_EXISTING: FXF_TRUNC,
        }.get(flags & FXF_ACCESS_DISPOSITION, 0)
        return self.open(path, pflags, attrs)

    def _open(
        self, path: bytes, flags: int, mode: str, attrs: SFTPAttrs, *, local: bytes | None = None
    ) -> ExchangeFile:
        local = local if local is not None else self.map_path(path)
        perms = self._mode(attrs.permissions, FILE_MODE_FLOOR, default=0o644)
        # O_NOFOLLOW: a link swapped in after the path check is still not followed.
        fd = os.open(local, flags | os.O_NOFOLLOW | os.O_CLOEXEC, perms)
        try:
            info = os.fstat(fd)
            if stat_module.S_ISDIR(info.st_mode):
                raise IsADirectoryError(errno.EISDIR, "Is a directory")
            if not stat_module.S_ISREG(info.st_mode) or info.st_nlink > 1:
                self._refuse("open a file that is not a plain file:", path)
                raise SFTPPermissionDenied("Permission denied: not a plain file.")
            file_obj = ExchangeFile(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        file_obj.virtual, file_obj.local = self._virtual(path), local
        return file_obj

    def write(self, file_obj: ExchangeFile, offset: int, data: bytes) -> int:
        if not file_obj.writing:
            raise SFTPPermissionDenied("Permission denied: the file is open for reading only.")
        if file_obj.discarded:
            raise SFTPFailure("This upload was discarded: the account's quota is full.")
        size = os.fstat(file_obj.fileno()).st_size
        end = size + len(data) if "a" in file_obj.mode else offset + len(data)
        self._grow(file_obj, end - size)
        file_obj.seek(offset)
        written = file_obj.write(data)
        self.usage.bytes += max(0, end - size)
        return written

    def _grow(self, file_obj: ExchangeFile, growth: int) -> None:
        if growth > 0 and self.usage.bytes + growth > self.quota.max_bytes:
            self._discard(file_obj)
            self._over_quota(file_obj.virtual, "write")

    def _discard(self, file_obj: ExchangeFile) -> None:
        """Empty an upload that broke the quota and take its name away: nothing half-written
        may be handed in, and the space is free again at once."""
        file_obj.discarded = True
        os.ftruncate(file_obj.fileno(), 0)
        try:
            if (
                os.stat(file_obj.local, follow_symlinks=False).st_ino
                == os.fstat(file_obj.fileno()).st_ino
            ):
                os.remove(file_obj.local)
        except FileNotFoundError:
            pass
        self.usage.recount(self.upload_folders)

    def _over_quota(self, path: bytes, action: str) -> None:
        logger.warning(
            "file exchange: %s tried to %s %s beyond its quota (%s, holding %s bytes in %s): "
            "refused",
            self.username,
            action,
            os.fsdecode(self._virtual(path)),
            self.quota.describe(),
            f"{self.usage.bytes:,}",
            f"{self.usage.files:,}",
        )
        raise SFTPFailure(
            f"Quota exceeded: this account's upload folders may hold {self.quota.describe()}. "
            "Nothing was kept of this upload."
        )

    def close(self, file_obj: ExchangeFile) -> None:
        file_obj.close()
        if file_obj.writing:
            self.usage.recount(self.upload_folders)

    # --- attributes --------------------------------------------------------------------------

    def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        local = self._writable(path, "change the attributes of")
        self._set_attributes(local, path, attrs, None)

    lsetstat = setstat

    def fsetstat(self, file_obj: ExchangeFile, attrs: SFTPAttrs) -> None:
        if not file_obj.writing:
            self._refuse("change the attributes of", file_obj.virtual)
            raise SFTPPermissionDenied("Permission denied: the file is open for reading only.")
        self._set_attributes(file_obj.fileno(), file_obj.virtual, attrs, file_obj)

    def _set_attributes(
        self, target: bytes | int, path: bytes, attrs: SFTPAttrs, file_obj: ExchangeFile | None
    ) -> None:
        if attrs.uid is not None or attrs.gid is not None or attrs.owner or attrs.group:
            self._refuse("change the owner of", path)
            raise SFTPPermissionDenied("Permission denied: owners cannot be changed here.")
        info = os.stat(target, follow_symlinks=False) if isinstance(target, bytes) else None
        info = info or os.fstat(target)
        if attrs.size is not None:
            if not stat_module.S_ISREG(info.st_mode):
                raise SFTPPermissionDenied("Permission denied: only a file has a size.")
            if file_obj is not None:
                self._grow(file_obj, attrs.size - info.st_size)
            elif attrs.size > info.st_size:
                self.usage.recount(self.upload_folders)
                if self.usage.bytes + attrs.size - info.st_size > self.quota.max_bytes:
                    self._over_quota(path, "grow")
            os.truncate(target, attrs.size)
            self.usage.recount(self.upload_folders)
        if attrs.permissions is not None:
            floor = DIR_MODE_FLOOR if stat_module.S_ISDIR(info.st_mode) else FILE_MODE_FLOOR
            os.chmod(target, self._mode(attrs.permissions, floor, default=0o644))
        if attrs.atime is not None or attrs.mtime is not None:
            atime = attrs.atime * 10**9 + (attrs.atime_ns or 0) if attrs.atime is not None else None
            mtime = attrs.mtime * 10**9 + (attrs.mtime_ns or 0) if attrs.mtime is not None else None
            os.utime(target, ns=(atime or info.st_atime_ns, mtime or info.st_mtime_ns))

    @staticmethod
    def _mode(requested: int | None, floor: int, *, default: int) -> int:
        if requested is None:
            return default
        return (stat_module.S_IMODE(requested) & MODE_CEILING) | floor

    # --- folders and names -------------------------------------------------------------------

    def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        local = self._writable(path, "create a folder at")
        self.usage.recount(self.upload_folders)
        if self.usage.files + 1 > self.quota.max_files:
            self._over_quota(path, "create a folder at")
        os.mkdir(local, self._mode(attrs.permissions, DIR_MODE_FLOOR, default=0o755))

    def rmdir(self, path: bytes) -> None:
        os.rmdir(self._writable(path, "remove"))
        self.usage.recount(self.upload_folders)

    def remove(self, path: bytes) -> None:
        os.remove(self._writable(path, "remove"))
        self.usage.recount(self.upload_folders)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = self._writable(oldpath, "rename"), self._writable(newpath, "rename onto")
        if os.path.lexists(new):
            raise asyncssh.SFTPFileAlreadyExists("File already exists")
        os.rename(old, new)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = self._writable(oldpath, "rename"), self._writable(newpath, "rename onto")
        os.replace(old, new)
        self.usage.recount(self.upload_folders)
