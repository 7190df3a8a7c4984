"""The generated blocks of docs/reference/ are what tests/support/docs_reference.py makes
now: from the settings table, the JSON schema and its words, and the CLI's --help."""

import pytest

from tests.support import docs_reference
from tests.support.docs_reference import Block, blocks, generated_pages, with_block

REGENERATE = "run `python -m tests.support.docs_reference` and commit the page"


@pytest.mark.parametrize("page", sorted({block.page for block in blocks()}), ids=lambda page: page.name)
def test_each_generated_page_is_what_the_script_makes(page):
    assert page.read_text() == generated_pages()[page], f"{page.name} differs from what it is made from: {REGENERATE}"


def test_a_block_is_replaced_between_its_markers_and_nothing_else(tmp_path):
    block = Block(tmp_path / "page.md", "<!-- a -->", "<!-- end of a -->", lambda: "<!-- a -->\nnew\n<!-- end of a -->")
    assert with_block("before\n<!-- a -->\nold\n<!-- end of a -->\nafter\n", block) == "before\n<!-- a -->\nnew\n<!-- end of a -->\nafter\n"


def test_a_page_without_its_markers_is_an_error(tmp_path):
    block = Block(tmp_path / "page.md", "<!-- a -->", "<!-- end of a -->", lambda: "")
    with pytest.raises(LookupError, match="lacks the markers"):
        with_block("no markers here\n", block)


def test_a_json_field_without_words_is_named(monkeypatch):
    from tests.support import json_schema

    monkeypatch.setitem(json_schema.DOCUMENTS, "made-up", {"a_field_nobody_described": int})
    with pytest.raises(LookupError, match=r"made-up\.a_field_nobody_described"):
        docs_reference.json_reference()


def test_the_cli_page_has_every_command_hidden_ones_too():
    page = docs_reference.cli_reference()
    for heading in ("## `gpuagent add`", "## `gpuagent history`", "## `gpuagent notebook start`", "## `gpuagent run`"):
        assert heading in page
