"""Follow Zeek's ``intel.log`` (ASCII TSV or JSON), across rotations, from a persisted position.

:class:`IntelLogFollower` reads the complete lines written since the last position and returns the
matches as ``(ts, indicator, indicator_type, matched)`` tuples plus the new position (a small dict the
caller persists *after* it has stored what it derived from the lines, so a crash re-reads instead of
losing). The format is detected per file: a line starting with ``{`` is JSON, anything else follows
the ``#fields`` header (TSV; ``\\xHH`` escapes undone).

Rotation: the position holds the file's device, inode, offset and a fingerprint (sha256 of its first
bytes). When ``intel.log`` has another inode (or shrank), the rest of the old file is read first:
found by inode in the same directory (Zeek's own rotation renames ``intel.log`` to
``intel.<time>.log``) or by fingerprint among the rotated files there and in zeekctl's archive
(``<archive>/<YYYY-MM-DD>/intel.<from>-<to>.log.gz``, gzip-compressed: new inode, same bytes), then
the new file from its start. More than one rotation between two polls loses the middle files' lines
(a poll runs every second; rotation is hourly).
"""

import gzip
import hashlib
import json
import os
import re

FP_BYTES = 4096
_ESC = re.compile(rb"\\x([0-9a-fA-F]{2})")
_DEFAULT_FIELDS = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "seen.indicator",
    "seen.indicator_type",
    "seen.where",
    "seen.node",
    "matched",
    "sources",
)


class IntelLogError(Exception):
    pass


def _unescape(raw):
    return _ESC.sub(lambda m: bytes([int(m.group(1), 16)]), raw) if b"\\x" in raw else raw


def _fingerprint(data):
    return hashlib.sha256(data[:FP_BYTES]).hexdigest(), min(len(data), FP_BYTES)


class _Parser:
    """Parses one file's lines; keeps the TSV header state between polls (carried in the position)."""

    def __init__(self, fields=None, matched=True):
        self.fields = list(fields) if fields else None
        self.matched = matched
        self.set_sep = b","
        self.bad = 0

    def _indexes(self):
        fields = self.fields or list(_DEFAULT_FIELDS)
        try:
            return (
                fields.index("ts"),
                fields.index("seen.indicator"),
                fields.index("seen.indicator_type"),
                fields.index("matched") if "matched" in fields else -1,
            )
        except ValueError as exc:
            raise IntelLogError(f"intel.log #fields lacks {exc}") from None

    def parse(self, data, out):
        """Append ``(ts, indicator, type, matched)`` for every data line of ``data`` (complete lines)."""
        append = out.append
        idx = None
        for line in data.split(b"\n"):
            if not line:
                continue
            first = line[0]
            if first == 0x7B:  # "{": JSON writer
                try:
                    rec = json.loads(line)
                    ts = rec["ts"]
                    if not isinstance(ts, (int, float)):
                        ts = _iso_ts(ts)
                    matched = rec.get("matched") or ()
                    append((float(ts), rec["seen.indicator"], rec["seen.indicator_type"], tuple(matched)))
                except (ValueError, KeyError, TypeError):
                    self.bad += 1
                continue
            if first == 0x23:  # "#": TSV header
                if line.startswith(b"#fields\t"):
                    self.fields = line.decode("utf-8", "replace").split("\t")[1:]
                    idx = None
                elif line.startswith(b"#set_separator\t"):
                    self.set_sep = _unescape(line.split(b"\t", 1)[1]) or b","
                continue
            if idx is None:
                idx = self._indexes()
                its, iind, ityp, imat = idx
                need = max(idx) + 1
                if not self.matched:
                    imat = -1
            parts = line.split(b"\t")
            if len(parts) < need:
                self.bad += 1
                continue
            try:
                ts = float(parts[its])
            except ValueError:
                self.bad += 1
                continue
            ind = parts[iind]
            if b"\\x" in ind:
                ind = _unescape(ind)
            matched = parts[imat].split(self.set_sep) if imat >= 0 else ()
            append(
                (
                    ts,
                    ind.decode("utf-8", "replace"),
                    parts[ityp].decode("ascii", "replace"),
                    tuple(m.decode("ascii", "replace") for m in matched),
                )
            )


def _iso_ts(value):
    from datetime import datetime

    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


class IntelLogFollower:
    """``poll(position) -> (matches, position)``; ``position`` is ``None`` on the first run."""

    def __init__(self, path, archive_dir=None, chunk=8 << 20):
        self.path = path
        self.archive_dir = archive_dir
        self.chunk = chunk
        self.bad_lines = 0
        self.rotations = 0

    # -- reading ----------------------------------------------------------------------------
    def _read_from(self, fh, offset, parser, out):
        """Read complete lines from ``offset``; return the new offset."""
        fh.seek(offset)
        carry = b""
        while True:
            block = fh.read(self.chunk)
            if not block:
                break
            block = carry + block
            cut = block.rfind(b"\n") + 1
            if cut:
                parser.parse(block[:cut], out)
                offset += cut
            carry = block[cut:]
        return offset

    def _head(self, path):
        opener = gzip.open if path.endswith(".gz") else open
        try:
            with opener(path, "rb") as fh:
                return fh.read(FP_BYTES)
        except (OSError, EOFError):
            return b""

    def _candidates(self):
        """Rotated intel logs, newest first: beside the live file, then in the archive's newest days."""
        found = []
        directory = os.path.dirname(os.path.abspath(self.path))
        base = os.path.basename(self.path)
        stem = base[: -len(".log")] if base.endswith(".log") else base
        for name in os.listdir(directory):
            if name != base and name.startswith(stem + ".") and not name.endswith(".tmp"):
                found.append(os.path.join(directory, name))
        if self.archive_dir and os.path.isdir(self.archive_dir):
            days = sorted(d for d in os.listdir(self.archive_dir) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", d))
            for day in days[-2:]:
                ddir = os.path.join(self.archive_dir, day)
                found += [os.path.join(ddir, n) for n in os.listdir(ddir) if n.startswith(stem + ".")]

        def mtime(p):
            try:
                return os.stat(p).st_mtime
            except OSError:
                return 0

        return sorted(found, key=mtime, reverse=True)

    def _finish_rotated(self, position, out, matched):
        """Read the rest of the file the position points into, now rotated away. True if found."""
        parser = _Parser(position.get("fields"), matched)
        fp, fp_len = position.get("fp"), position.get("fp_len", 0)
        for cand in self._candidates():
            try:
                st = os.stat(cand)
            except OSError:
                continue
            same_inode = (st.st_dev, st.st_ino) == (position["dev"], position["ino"]) and not cand.endswith(".gz")
            if not same_inode:
                if not fp or not fp_len:
                    continue
                head = self._head(cand)
                if len(head) < fp_len or hashlib.sha256(head[:fp_len]).hexdigest() != fp:
                    continue
            opener = gzip.open if cand.endswith(".gz") else open
            try:
                with opener(cand, "rb") as fh:
                    self._read_from(fh, position["offset"], parser, out)
            except (OSError, EOFError) as exc:
                raise IntelLogError(f"cannot read rotated intel log {cand}: {exc}") from None
            self.bad_lines += parser.bad
            self.rotations += 1
            return True
        return False

    def poll(self, position=None, matched=True):
        """``matched=False``: leave the ``matched`` field out (an empty tuple): less work per line."""
        out = []
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            fh = None
        except OSError as exc:
            raise IntelLogError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            st = os.fstat(fh.fileno()) if fh else None
            start = 0
            fields = None
            if position and position.get("ino") is not None:
                same = st is not None and (st.st_dev, st.st_ino) == (position["dev"], position["ino"])
                if same and st.st_size >= position["offset"]:
                    start, fields = position["offset"], position.get("fields")
                    # a file replaced in place by one with other first bytes is a new file
                    if position.get("fp") and position.get("fp_len"):
                        fh.seek(0)
                        head = fh.read(position["fp_len"])
                        if hashlib.sha256(head).hexdigest() != position["fp"]:
                            start, fields = 0, None
                elif not same:
                    self._finish_rotated(position, out, matched)
                # same inode but shorter: truncated, start again at 0
            if fh is None:
                new = dict(position or {})
                return out, new if position else None
            parser = _Parser(fields, matched)
            offset = self._read_from(fh, start, parser, out)
            self.bad_lines += parser.bad
            fh.seek(0)
            fp, fp_len = _fingerprint(fh.read(FP_BYTES))
            return out, {
                "dev": st.st_dev,
                "ino": st.st_ino,
                "offset": offset,
                "fields": parser.fields,
                "fp": fp,
                "fp_len": fp_len,
            }
        finally:
            if fh is not None:
                fh.close()
