"""Deterministic, atomic writer for Zeek Intel framework files.

Format (Zeek ``Intel::read_files``, ASCII reader defaults): one ``#fields`` header line, single TAB
separators, ``-`` for unset fields, one indicator per line, lines sorted (byte order == code point
order) and unique by ``indicator\\tindicator_type``. Files are replaced by write-to-temp + fsync +
rename in the same directory, so Zeek (and a crash) only ever sees the old or the new file, and
the old file's mode and owner are kept.
"""

import hashlib
import os
import tempfile

INTEL_FIELDS = ("indicator", "indicator_type", "meta.source", "meta.desc", "meta.url", "meta.do_notice", "meta.if_in")
INTEL_HEADER = "#fields\t" + "\t".join(INTEL_FIELDS) + "\n"
REMOVALS_FIELDS = ("indicator", "indicator_type", "source")
REMOVALS_HEADER = "#fields\t" + "\t".join(REMOVALS_FIELDS) + "\n"
_CHUNK = 20000


class IntelWriteError(Exception):
    pass


def file_digest(path):
    """sha256 hex of a file, or ``None`` when it does not exist."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        return None
    return h.hexdigest()


def atomic_write(path, chunks, mode=0o644, only_if_changed=True, unchanged=None):
    """Write the iterable of ``str``/``bytes`` chunks to ``path`` atomically.

    Returns ``(changed, sha256)``. With ``only_if_changed``, content equal to the existing file
    replaces nothing (the file's mtime is kept, so Zeek does not re-read it); without it no digest
    is computed (``sha256`` is ``None``). ``unchanged``: a callable asked once the chunks are
    written; if it returns True the new file is discarded (the caller compared while writing).
    An existing file's mode/owner win over ``mode``.
    """
    directory = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(directory):
        raise IntelWriteError(f"directory of {path!r} does not exist")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    h = hashlib.sha256() if only_if_changed else None
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                data = chunk if isinstance(chunk, (bytes, memoryview)) else chunk.encode("utf-8")
                if h is not None:
                    h.update(data)
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        digest = h.hexdigest() if h is not None else None
        if (unchanged is not None and unchanged()) or (
            only_if_changed and st is not None and file_digest(path) == digest
        ):
            os.unlink(tmp)
            return False, digest
        if st is not None:
            os.chmod(tmp, st.st_mode & 0o7777)
            if os.geteuid() == 0:
                os.chown(tmp, st.st_uid, st.st_gid)
        else:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return True, digest
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def render_chunks(lines_sorted):
    """Header + already-sorted data lines (``str`` without the newline), chunked."""
    yield INTEL_HEADER
    for i in range(0, len(lines_sorted), _CHUNK):
        yield "\n".join(lines_sorted[i : i + _CHUNK]) + "\n"


def winners_to_lines(best):
    """``{key: suffix}`` -> sorted list of complete lines (without newline)."""
    return [f"{k}\t{best[k]}" for k in sorted(best)]


def read_lines(path):
    """Existing intel file -> ``(ok, data lines without newline, sha256)``; ``ok`` is False when the
    file is absent or was not written by this writer (it is then re-rendered)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return False, [], None
    digest = hashlib.sha256(raw).hexdigest()
    try:
        data = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False, [], digest
    if not data.startswith(INTEL_HEADER) or not data.endswith("\n"):
        return False, [], digest
    body = data[len(INTEL_HEADER) : -1]
    return True, (body.split("\n") if body else []), digest


def file_stamp(path):
    """``size:mtime_ns:inode`` of a file (``None`` if absent): detects changes behind our back."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"


INTEL_HEADER_B = INTEL_HEADER.encode()


def read_lines_bytes(path):
    """Like :func:`read_lines` on bytes, without decoding or hashing (the incremental fast path).
    Returns ``(ok, lines, stamp)``."""
    stamp = file_stamp(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        return False, [], None
    if not raw.startswith(INTEL_HEADER_B) or not raw.endswith(b"\n"):
        return False, [], stamp
    body = raw[len(INTEL_HEADER_B) : -1]
    return True, (body.split(b"\n") if body else []), stamp


def render_chunks_bytes(lines_sorted):
    yield INTEL_HEADER_B
    for i in range(0, len(lines_sorted), _CHUNK):
        yield b"\n".join(lines_sorted[i : i + _CHUNK]) + b"\n"


def removal_line(line):
    """Intel line -> removals line (indicator, type, meta.source)."""
    ind, typ, src, _ = line.split("\t", 3)
    return f"{ind}\t{typ}\t{src}\n"


def write_removals(path, removed_lines, mode=0o644):
    """Replace the removals file with exactly this batch (possibly empty)."""
    chunks = [REMOVALS_HEADER] + sorted({removal_line(ln) for ln in removed_lines})
    return atomic_write(path, chunks, mode=mode)
