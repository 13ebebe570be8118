"""Unicode's explicit direction controls (UAX #9) in text readers are shown: every
embedding, override and isolate a text opens is closed within that text.

Articles' titles, summaries, bylines and captions are closed where they are published, the
titles and descriptions the config gives when it is read. Pure.
"""

from __future__ import annotations

import re

# Explicit direction formatting (UAX #9): each embedding and override is ended by PDF, each
# isolate by PDI (which ends the embeddings opened inside it too).
_CLOSERS = {
    "\u202a": "\u202c",  # LRE
    "\u202b": "\u202c",  # RLE
    "\u202d": "\u202c",  # LRO
    "\u202e": "\u202c",  # RLO
    "\u2066": "\u2069",  # LRI
    "\u2067": "\u2069",  # RLI
    "\u2068": "\u2069",  # FSI
}
_DIRECTIONS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def directions_closed(text: str) -> str:
    """`text` with every direction embedding, override and isolate it opens closed at its
    end, and closers that close nothing dropped. Left open, one in a headline (`U+202E` of
    a spoofed "gnp.exe") reversed whatever a reader shows after it on the line: the date,
    the source, the next headline."""
    if not _DIRECTIONS.search(text):
        return text
    out: list[str] = []
    open_: list[str] = []  # the closers owed, innermost last
    for char in text:
        closer = _CLOSERS.get(char)
        if closer is not None:
            open_.append(closer)
        elif char == "\u202c":
            if not open_ or open_[-1] != char:
                continue  # closes nothing (or would cross an isolate): dropped
            open_.pop()
        elif char == "\u2069":
            if char not in open_:
                continue
            while open_.pop() != char:
                pass  # the isolate's end ends the embeddings inside it
        out.append(char)
    return "".join(out) + "".join(reversed(open_))
