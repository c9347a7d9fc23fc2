"""Split a script into statements with their positions, so one bad statement spares the others."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType


@dataclass(frozen=True, slots=True)
class Chunk:
    """One statement's text and where it starts in the script (0-based offset, 1-based line/column)."""

    text: str
    offset: int
    line: int
    column: int


def _position(script: str, offset: int) -> tuple[int, int]:
    line = script.count("\n", 0, offset) + 1
    column = offset - (script.rfind("\n", 0, offset) + 1) + 1
    return line, column


def split_statements(script: str, dialect: str) -> list[Chunk]:
    """Statements of ``script`` (split on top-level semicolons by the dialect's tokenizer).

    A script the tokenizer cannot read (an unterminated string, say) falls back to a plain
    split on ``;``, so the parser still reports each statement's own error.
    """
    try:
        tokens = Dialect.get_or_raise(dialect).tokenize(script)
    except TokenError:
        chunks, start = [], 0
        for part in script.split(";"):
            if part.strip():
                lead = len(part) - len(part.lstrip())
                chunks.append(Chunk(part.strip(), start + lead, *_position(script, start + lead)))
            start += len(part) + 1
        return chunks
    chunks = []
    begin: int | None = None
    end = 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if begin is not None:
                chunks.append(Chunk(script[begin : end + 1], begin, *_position(script, begin)))
            begin = None
            continue
        if begin is None:
            begin = token.start
        end = token.end
    if begin is not None:
        chunks.append(Chunk(script[begin : end + 1], begin, *_position(script, begin)))
    return chunks
