"""The generated parts of the docs' reference pages, and the one script that writes them.

Each generated block of a page lies between two HTML comment markers and is made from
what the product itself says: the job file reference from the settings table
(tests/support/settings_reference.py renders it), the JSON reference from the schema the
tests check every document against (tests/support/json_schema.py) and the words of each
field (tests/support/json_fields.py), the CLI reference from the Click command tree of the
Typer app, as `--help` prints it. The prose around the blocks is written by hand.

    python -m tests.support.docs_reference           # rewrite the blocks in docs/reference/
    python -m tests.support.docs_reference --check   # exit 1 naming each page that differs

tests/unit/test_docs_reference.py fails when a committed page differs from what this
makes now. It lives in tests/ so that it never ships in the package.
"""

import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "reference"
JOB_FILE_PAGE = REFERENCE / "job-file.md"
JSON_PAGE = REFERENCE / "json-output.md"
CLI_PAGE = REFERENCE / "cli.md"

JSON_BEGIN = "<!-- json fields: made from tests/support/json_schema.py and json_fields.py -->"
JSON_END = "<!-- end of json fields -->"
CLI_BEGIN = "<!-- commands: made from gpuagent/cli/app.py -->"
CLI_END = "<!-- end of commands -->"
# `--help` as a terminal this wide prints it, so the page is the same on every machine.
HELP_WIDTH = 100


@dataclass(frozen=True)
class Block:
    page: Path
    begin: str
    end: str
    make: Callable[[], str]  # the block's text, markers included


# --- the JSON reference -------------------------------------------------------------


def _json_type(schema: Any, shared: dict[int, str]) -> str:
    """How a field's schema reads in the table: `integer or null`, `list of objects (a run)`."""
    from tests.support import json_schema

    if isinstance(schema, json_schema.Maybe):
        return f"{_json_type(schema.schema, shared)} or null"
    if isinstance(schema, list):
        item = _json_type(schema[0], shared)
        plural = re.sub(r"^(string|integer|number|boolean|time|object)\b", r"\1s", item)
        return f"list of {plural}"
    if isinstance(schema, dict):
        return f"object ([{shared[id(schema)]}](#{_anchor(shared[id(schema)])}))" if id(schema) in shared else "object"
    if isinstance(schema, json_schema.MapOf):
        return f"object of {_json_type(schema.values, shared)}s"
    if isinstance(schema, json_schema.Either):
        return " or ".join(_json_type(option, shared) for option in schema.schemas)
    if isinstance(schema, json_schema.OneOf):
        return "one of " + ", ".join(f"`{value}`" for value in schema.values)
    if schema is json_schema.MOMENT:
        return "time"
    return {str: "string", int: "integer", float: "number", bool: "boolean"}[schema]


def _anchor(title: str) -> str:
    """The id mkdocs gives a heading (its toc extension's slugify)."""
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", title).strip().lower())


def _objects_within(schema: Any) -> dict | None:
    """The object a field holds, through null and lists, or None for a plain value."""
    from tests.support import json_schema

    while isinstance(schema, json_schema.Maybe | list):
        schema = schema.schema if isinstance(schema, json_schema.Maybe) else schema[0]
    return schema if isinstance(schema, dict) else None


def _json_tables(context: str, path: str, schema: dict, shared: dict[int, str], missing: list[str], suffix: str = "") -> Iterator[str]:
    """The table of one object, then the tables of the objects its fields hold, each
    named by its jq path (`.jobs[].last_run`) from `path`, the object's own, and `suffix`
    (which shared object it is in)."""
    from tests.support.json_fields import words

    yield "| field | type | meaning |"
    yield "| --- | --- | --- |"
    nested = []
    for field, field_schema in schema.items():
        meaning = words(context, field)
        if meaning is None:
            missing.append(f"{context}.{field}")
        cell = (meaning or "").replace("|", "\\|")
        yield f"| `{field}` | {_json_type(field_schema, shared)} | {cell} |"
        inner = _objects_within(field_schema)
        if inner is not None and id(inner) not in shared:
            nested.append((field, inner))
    for field, inner in nested:
        inner_path = f"{path}.{field}{'[]' if _is_list(schema[field]) else ''}"
        yield ""
        yield f"`{inner_path}`{suffix}:"
        yield ""
        yield from _json_tables(f"{context}.{field}", inner_path, inner, shared, missing, suffix)


def _is_list(schema: Any) -> bool:
    from tests.support import json_schema

    return isinstance(schema.schema if isinstance(schema, json_schema.Maybe) else schema, list)


def json_reference() -> str:
    """A section per `--json` document, then one for each object several documents hold."""
    from tests.support import json_schema
    from tests.support.json_fields import SHARED

    shared = {id(getattr(json_schema, name)): title for name, title in SHARED.items()}
    missing: list[str] = []
    lines = [JSON_BEGIN]
    for document, schema in json_schema.DOCUMENTS.items():
        lines += ["", f"## `{document}`", ""]
        lines += _json_tables(document, "", schema, shared, missing)
    for name, title in SHARED.items():
        lines += ["", f"## {title}", ""]
        lines += _json_tables(title, "", getattr(json_schema, name), shared, missing, f" of {title[0].lower()}{title[1:]}")
    if missing:
        raise LookupError(f"no words for these --json fields: add them to tests/support/json_fields.py: {', '.join(missing)}")
    return "\n".join([*lines, "", JSON_END])


# --- the CLI reference --------------------------------------------------------------


def _commands(command: Any, ctx: Any) -> Iterator[tuple[Any, Any]]:
    """Each command of the tree, depth first, with the context `--help` would run in."""
    yield command, ctx
    if hasattr(command, "list_commands"):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            yield from _commands(sub, sub.context_class(sub, info_name=name, parent=ctx))


def cli_reference() -> str:
    """Every command's `--help`, hidden ones too (the units run them), as a terminal
    HELP_WIDTH columns wide prints it."""
    import typer

    from gpuagent.cli.app import app

    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="gpuagent", terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH)
    lines = [CLI_BEGIN]
    for command, command_ctx in _commands(root, ctx):
        note = " (hidden from `--help`)" if command.hidden else ""
        lines += ["", f"## `{command_ctx.command_path}`{note}", "", "```text", command.get_help(command_ctx).rstrip(), "```"]
    return "\n".join([*lines, "", CLI_END])


# --- the pages ----------------------------------------------------------------------


def _settings_reference() -> str:
    from tests.support.settings_reference import reference

    return reference()


def _cluster_reference() -> str:
    from tests.support.settings_reference import cluster_reference

    return cluster_reference()


def blocks() -> list[Block]:
    from tests.support.settings_reference import BEGIN, CLUSTER_BEGIN, CLUSTER_END, END

    return [
        Block(JOB_FILE_PAGE, BEGIN, END, _settings_reference),
        Block(JOB_FILE_PAGE, CLUSTER_BEGIN, CLUSTER_END, _cluster_reference),
        Block(JSON_PAGE, JSON_BEGIN, JSON_END, json_reference),
        Block(CLI_PAGE, CLI_BEGIN, CLI_END, cli_reference),
    ]


def with_block(text: str, block: Block) -> str:
    """`text` with its block made anew; a page that lacks the markers is an error."""
    if block.begin not in text or block.end not in text:
        raise LookupError(f"{block.page} lacks the markers {block.begin!r} ... {block.end!r}")
    before, rest = text.split(block.begin, 1)
    after = rest.split(block.end, 1)[1]
    return before + block.make() + after


def generated_pages() -> dict[Path, str]:
    """Each page with a generated block, as this script would write it now."""
    pages: dict[Path, str] = {}
    for block in blocks():
        pages[block.page] = with_block(pages.get(block.page) or block.page.read_text(), block)
    return pages


def main(argv: list[str]) -> int:
    stale = {page: text for page, text in generated_pages().items() if page.read_text() != text}
    for page, text in stale.items():
        if "--check" in argv:
            print(f"{page.relative_to(ROOT)} differs from what it is made from: run python -m tests.support.docs_reference", file=sys.stderr)
        else:
            page.write_text(text)
            print(f"wrote {page.relative_to(ROOT)}")
    return 1 if stale and "--check" in argv else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
