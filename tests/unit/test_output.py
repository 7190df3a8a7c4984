from gpuagent.host.output import split_lines


def test_lines_split_across_chunks_and_inside_utf8_characters():
    chunks = [b"part one ", b"part two\nnext", b" line\ncaf\xc3", b"\xa9\n", b"no newline"]
    assert list(split_lines(chunks)) == ["part one part two", "next line", "café", "no newline"]


def test_undecodable_bytes_are_replaced_not_fatal():
    assert list(split_lines([b"bad \xff byte\n"])) == ["bad \ufffd byte"]


def test_a_carriage_return_ends_a_line_and_a_crlf_pair_is_one_end():
    assert list(split_lines([b"10%\r20%\r", b"done\r\nnext\n"])) == ["10%", "20%", "done", "next"]


def test_a_crlf_pair_split_across_chunks_is_one_end():
    assert list(split_lines([b"one\r", b"\ntwo\r", b"\n", b"\nthree"])) == ["one", "two", "", "three"]


def test_a_line_longer_than_the_cap_comes_in_pieces_of_the_cap():
    chunks = [b"a" * 7, b"a" * 7, b"b\n", b"c" * 10]
    assert list(split_lines(chunks, cap=5)) == ["aaaaa", "aaaaa", "aaaab", "ccccc", "ccccc"]


def test_a_line_of_exactly_the_cap_is_one_line():
    assert list(split_lines([b"abcde", b"\nf"], cap=5)) == ["abcde", "f"]


def test_the_cap_falls_before_a_character_not_inside_it():
    # "é" is 2 bytes: a 5-byte cap after "abcd" would cut it in half.
    assert list(split_lines([b"abcd\xc3", b"\xa9fgh\n"], cap=5)) == ["abcd", "\u00e9fgh"]


def test_bytes_that_are_not_utf8_are_cut_at_the_cap():
    assert list(split_lines([b"\x80" * 12], cap=5)) == ["\ufffd" * 5, "\ufffd" * 5, "\ufffd" * 2]


def test_a_journald_line_cap_by_default():
    pieces = list(split_lines([b"x" * 100_000]))
    assert [len(piece) for piece in pieces] == [49152, 49152, 1696]
