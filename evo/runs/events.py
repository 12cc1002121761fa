"""The one reader of a run's event log (events.jsonl): `EventTail` returns, on each
call, only the events appended since the last one, so a long run's log is parsed once
(the dashboard tails it on every refresh) and in blocks, so a log of gigabytes is never
held in memory whole; `read_events` reads a whole log. A line cut by a kill, or not a
JSON object, is skipped (and counted)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

BLOCK = 16 << 20  # bytes read per call


@dataclass
class EventTail:
    path: Path
    offset: int = 0          # bytes consumed (complete lines only)
    inode: int | None = None
    bad_lines: int = 0       # complete lines that are not JSON objects (cut by a kill, edited by hand)
    pending: int = 0         # bytes of a last line not yet ended by a newline

    def read(self, block: int = BLOCK) -> tuple[list[dict], bool, bool]:
        """(new events, whether the file was replaced or shortened, so that the caller must
        start over, and whether more is left to read)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return [], False, False
        restart = (self.inode is not None and st.st_ino != self.inode) or st.st_size < self.offset
        if restart:
            self.offset, self.bad_lines, self.pending = 0, 0, 0
        self.inode = st.st_ino
        if st.st_size == self.offset:
            self.pending = 0
            return [], restart, False
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(min(block, st.st_size - self.offset))
            end = data.rfind(b"\n") + 1
            while not end and self.offset + len(data) < st.st_size:  # one line longer than a block
                data += f.read(block)
                end = data.rfind(b"\n") + 1
        more = self.offset + len(data) < st.st_size
        self.pending = 0 if more else len(data) - end  # a line still being written waits for the next call
        events = self._parse(data[:end])
        self.offset += end
        return events, restart, more

    def _parse(self, block: bytes) -> list[dict]:
        """The events of complete lines. The block is parsed as one JSON array first (about
        twice as fast as line by line); only a block holding a bad line is parsed again
        line by line, to skip just that line."""
        lines = [ln for ln in block.split(b"\n") if ln.strip()]
        try:
            events = json.loads(b"[" + b",".join(lines) + b"]")
            if len(events) == len(lines) and all(type(e) is dict for e in events):
                return events
        except ValueError:
            pass
        events = []
        for line in lines:
            try:
                e = json.loads(line)
            except ValueError:
                e = None
            if isinstance(e, dict):
                events.append(e)
            else:
                self.bad_lines += 1
        return events

    def read_all(self) -> list[dict]:
        """Every event from the current offset to the end of the file."""
        out: list[dict] = []
        while True:
            events, _, more = self.read()
            out += events
            if not more:
                return out


def read_events(path: Path) -> list[dict]:
    """Every complete event of an events.jsonl file, oldest first ([] if there is none)."""
    return EventTail(Path(path)).read_all()
