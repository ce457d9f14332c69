"""Go's text/tabwriter as docker's CLI uses it for tables (cli/command/formatter/tabwriter).

Cells end at a tab; the text after a line's last tab is not a column and is
never padded. A column is a run of consecutive lines that have a cell in it:
its width is the widest cell plus the padding, at least minwidth. A line
without a tab ends the block, so columns re-align after it. Widths count
display columns (East Asian wide characters count two), as docker's fork
does with go-runewidth. Docker writes its tables with minwidth 10, tabwidth 1,
padding 3 and spaces.
"""

from __future__ import annotations


def display_width(text: str) -> int:
    """Terminal columns of `text`: wide and full-width characters take two, combining marks none."""
    if text.isascii():
        return len(text)
    import unicodedata

    width = 0
    for c in text:
        if unicodedata.combining(c) or unicodedata.category(c) in ("Cc", "Cf", "Mn", "Me"):
            continue
        width += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return width


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """`text` aligned in columns at its tabs, as docker prints tables."""
    out: list[str] = []
    *complete, partial = text.split("\n")
    block: list[list[str]] = []
    for line in complete:
        block.append(line.split("\t"))
        if len(block[-1]) == 1:
            # A line without a tab ends the block: the columns above it are aligned on their own.
            _format(block, 0, len(block), [], minwidth, padding, out)
            block = []
    if partial:
        # The unfinished last line: a tab that ends it opens no cell.
        block.append(partial.removesuffix("\t").split("\t") if partial.endswith("\t") else partial.split("\t"))
    _format(block, 0, len(block), [], minwidth, padding, out)
    if partial:
        out.pop()  # the unfinished line has no newline
    return "".join(out)


def _format(
    lines: list[list[str]], line0: int, line1: int, widths: list[int], minwidth: int, padding: int, out: list[str]
) -> None:
    column = len(widths)
    this = line0
    while this < line1:
        if column >= len(lines[this]) - 1:
            this += 1
            continue
        # This line has a cell in the column: write the lines above it, then size the
        # column over the run of lines that have a cell in it, and recurse into the run.
        _write_lines(lines, line0, this, widths, out)
        line0 = this
        width = minwidth
        while this < line1 and column < len(lines[this]) - 1:
            width = max(width, display_width(lines[this][column]) + padding)
            this += 1
        widths.append(width)
        _format(lines, line0, this, widths, minwidth, padding, out)
        widths.pop()
        line0 = this
    _write_lines(lines, line0, line1, widths, out)


def _write_lines(lines: list[list[str]], line0: int, line1: int, widths: list[int], out: list[str]) -> None:
    for cells in lines[line0:line1]:
        for j, cell in enumerate(cells[:-1]):
            out.append(cell + " " * (widths[j] - display_width(cell)))
        out.append(cells[-1])
        out.append("\n")
