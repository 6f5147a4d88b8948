"""Code examples highlighted on the server with Pygments: spans with Pygments' short token classes
(coloured by style.css for light and dark), no inline style (the policy forbids it), no script."""

from __future__ import annotations

from functools import lru_cache

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import BashLexer, JavascriptLexer, JsonLexer, PythonLexer

LEXERS: dict[str, type[Lexer]] = {
    "bash": BashLexer,
    "python": PythonLexer,
    "javascript": JavascriptLexer,
    "json": JsonLexer,
}
_FORMATTER = HtmlFormatter(nowrap=True)


@lru_cache(maxsize=256)
def highlighted(code: str, language: str) -> Markup:
    """`code` as escaped HTML with token spans; its text content is `code` itself, so a copy button
    copies exactly what a reader sees. An unknown language is escaped only."""
    lexer = LEXERS.get(language)
    if lexer is None:
        return Markup.escape(code)
    html = highlight(code, lexer(stripnl=False, ensurenl=False), _FORMATTER)
    if not code.endswith("\n"):  # the formatter ends every last line
        html = html.removesuffix("\n")
    return Markup(html)  # safe: Pygments escapes every token of the text it is given


__all__ = ["LEXERS", "highlighted"]
