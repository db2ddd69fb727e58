"""A tiny document model rendered twice: Markdown (images linked) and one self-contained
HTML file (images embedded as data URIs, no external resource, no script).

Writing the report once as blocks keeps the two renderings identical in content.
"""

from __future__ import annotations

import base64
import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Document:
    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> "Document":
        self.blocks.append(("heading", (level, text)))
        return self

    def paragraph(self, text: str) -> "Document":
        self.blocks.append(("paragraph", text))
        return self

    def callout(self, text: str) -> "Document":
        self.blocks.append(("callout", text))
        return self

    def bullets(self, items: list[str]) -> "Document":
        self.blocks.append(("bullets", list(items)))
        return self

    def table(self, header: list[str], rows: list[list[Any]]) -> "Document":
        self.blocks.append(("table", (header, [[str(c) for c in r] for r in rows])))
        return self

    def image(self, path: str | Path, caption: str) -> "Document":
        if path and Path(path).is_file():
            self.blocks.append(("image", (Path(path), caption)))
        return self

    def pre(self, text: str) -> "Document":
        self.blocks.append(("pre", text))
        return self

    # -- rendering -------------------------------------------------------------------
    def to_markdown(self, base: Path) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "heading":
                out += ["#" * value[0] + " " + value[1], ""]
            elif kind == "paragraph":
                out += [value, ""]
            elif kind == "callout":
                out += [f"> **{value}**", ""]
            elif kind == "bullets":
                out += [f"- {item}" for item in value] + [""]
            elif kind == "table":
                header, rows = value
                out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                out += ["| " + " | ".join(r) + " |" for r in rows] + [""]
            elif kind == "image":
                path, caption = value
                out += [f"![{caption}]({os.path.relpath(path, base)})", f"*{caption}*", ""]
            elif kind == "pre":
                out += ["```", value, "```", ""]
        return "\n".join(out)

    def to_html(self) -> str:
        e = html.escape
        body = [f"<h1>{e(self.title)}</h1>"]
        for kind, value in self.blocks:
            if kind == "heading":
                body.append(f"<h{value[0]}>{e(value[1])}</h{value[0]}>")
            elif kind == "paragraph":
                body.append(f"<p>{_inline(value)}</p>")
            elif kind == "callout":
                body.append(f'<p class="callout">{_inline(value)}</p>')
            elif kind == "bullets":
                body.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in value) + "</ul>")
            elif kind == "table":
                header, rows = value
                head = "".join(f"<th>{_inline(h)}</th>" for h in header)
                cells = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in r) + "</tr>"
                                for r in rows)
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
            elif kind == "image":
                path, caption = value
                data = base64.b64encode(path.read_bytes()).decode("ascii")
                body.append(f'<figure><img alt="{e(caption)}" src="data:image/png;base64,{data}">'
                            f"<figcaption>{e(caption)}</figcaption></figure>")
            elif kind == "pre":
                body.append(f"<pre>{e(value)}</pre>")
        return (
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{e(self.title)}</title>"
            f"<style>{_CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n")

    def write(self, folder: Path, stem: str = "report") -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        md = folder / f"{stem}.md"
        page = folder / f"{stem}.html"
        md.write_text(self.to_markdown(folder))
        page.write_text(self.to_html())
        return md, page


def _inline(text: str) -> str:
    """Escape, then render **bold** and `code` spans (the only inline markup we use)."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _cell(text: str) -> str:
    """A table cell: a value's ``[low, high]`` CI on its own smaller line, so that a table
    with a CI in every column stays narrow enough to read."""
    return re.sub(r"(?<=\d) (\[[-\d.—]+, [-\d.—]+\])", r'<br><span class="ci">\1</span>',
                  _inline(text))


_CSS = """
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1d2330;background:#f6f7f9;margin:0}
main{max-width:980px;margin:0 auto;padding:24px 28px 64px;background:#fff;min-height:100vh}
h1{font-size:26px;margin:8px 0 16px}h2{font-size:20px;margin-top:32px;border-bottom:1px solid #e3e6eb;padding-bottom:4px}
h3{font-size:16px;margin-top:20px}table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #d9dde3;padding:4px 10px;text-align:left}th{background:#eef1f5}
tr:nth-child(even) td{background:#fafbfc}figure{margin:12px 0 20px}img{max-width:100%;height:auto;border:1px solid #e3e6eb}
figcaption{font-size:13px;color:#5b6474}.callout{background:#fff6e0;border-left:4px solid #e0a800;padding:8px 12px}
.ci{font-size:12px;color:#5b6474;white-space:nowrap}
code{background:#eef1f5;padding:1px 4px;border-radius:3px}pre{background:#eef1f5;padding:10px;overflow:auto;font-size:13px}
"""
