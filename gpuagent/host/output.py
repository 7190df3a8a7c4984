"""A container's output as lines.

A line ends at a newline, at a carriage return (progress bars redraw themselves with
`\\r`; a `\\r\\n` pair is one end), or at LINE_CAP bytes, journald's own line limit: a
container that never writes a newline costs linear time and at most LINE_CAP bytes held.
"""

from collections.abc import Iterable, Iterator

# journald's LineMax default (48K): a longer line it would split itself, at any byte.
LINE_CAP = 49152


def split_lines(chunks: Iterable[bytes], cap: int = LINE_CAP) -> Iterator[str]:
    """Chunks break anywhere, even inside a UTF-8 character or a `\\r\\n` pair: split
    bytes at ASCII line ends or at character boundaries, then decode each piece."""
    pending = bytearray()  # the unterminated start of the next line, at most `cap` bytes
    after_cr = False  # the last chunk ended with `\r`: a `\n` starting this one ends nothing
    for chunk in chunks:
        if after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        after_cr = chunk.endswith(b"\r")
        if b"\r" in chunk:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, tail = chunk.split(b"\n")
        if pending and lines:
            lines[0] = bytes(pending) + lines[0]
            pending.clear()
        for line in lines:
            if len(line) <= cap:  # nearly every line: no cutting to do
                yield line.decode("utf-8", errors="replace")
            else:
                yield from _pieces(line, cap, keep_rest=False)[0]
        pending += tail
        if len(pending) > cap:
            pieces, rest = _pieces(pending, cap, keep_rest=True)
            yield from pieces
            pending = bytearray(rest)
    if pending:
        yield from _pieces(pending, cap, keep_rest=False)[0]


def _pieces(data: bytes | bytearray, cap: int, *, keep_rest: bool) -> tuple[list[str], bytes | bytearray]:
    """`data` cut into decoded pieces of at most `cap` bytes; with `keep_rest`, the last
    piece (at most `cap` bytes, so more may still join it) is returned undecoded."""
    pieces, start = [], 0
    while len(data) - start > cap:
        end = _char_boundary(data, start + cap, floor=start + 1)
        pieces.append(data[start:end].decode("utf-8", errors="replace"))
        start = end
    if keep_rest:
        return pieces, data[start:]
    pieces.append(data[start:].decode("utf-8", errors="replace"))
    return pieces, b""


def _char_boundary(data: bytes | bytearray, end: int, floor: int) -> int:
    """`end`, moved back (at most 3 bytes: UTF-8 characters are at most 4) while it falls
    inside a character; as is when the bytes are not UTF-8 there."""
    for cut in range(end, max(floor, end - 3) - 1, -1):
        if data[cut] & 0xC0 != 0x80:  # not a continuation byte: a character starts here
            return cut
    return end
