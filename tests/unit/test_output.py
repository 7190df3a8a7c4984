from gpuagent.host.output import split_lines


def test_lines_split_across_chunks_and_inside_utf8_characters():
    chunks = [b"part one ", b"part two\nnext", b" line\ncaf\xc3", b"\xa9\n", b"no newline"]
    assert list(split_lines(chunks)) == ["part one part two", "next line", "café", "no newline"]


def test_undecodable_bytes_are_replaced_not_fatal():
    assert list(split_lines([b"bad \xff byte\n"])) == ["bad \ufffd byte"]
