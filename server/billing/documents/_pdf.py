"""PDF invoices: the same template as the HTML, drawn by fpdf2's `write_html`.

One template serves both. fpdf2 reads a subset of HTML (headings, paragraphs, `<br>`,
`<b>`, `<font>`, `<img>`, `<hr>`, plain tables with width/align attributes), and the default
template keeps to it; the template is rendered with `for_pdf` true so that it leaves out its
stylesheet, which fpdf2 would print as text. No second, simplified HTML is derived.

Text is set in a Unicode TrueType font (DejaVu Sans) so that `€`, `£`, umlauts and the
no-break spaces of CLDR formats come out right. The font is looked for in
`<template_dir>/fonts/` first, then in the usual system font directories. Without one, the
PDF falls back to the core Helvetica font in Windows-1252, which covers Western European
text and `€`; a document needing more (`zł`, `₹`, Cyrillic) then fails with a
`DocumentError` that says which font to install.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF, FontFace, TextStyle
from fpdf.errors import FPDFException, FPDFUnicodeEncodingException
from fpdf.html import HTML2FPDF

from billing.documents._html import render_template
from billing.documents._model import DocumentError, InvoiceDocument

log = logging.getLogger(__name__)

UNICODE_FAMILY = "billing-sans"
CORE_FAMILY = "helvetica"
# The widest encoding the core fonts take: Latin-1 plus €, en dash, curly quotes.
CORE_ENCODING = "windows-1252"
# fpdf2 style letter -> file name, DejaVu Sans as Debian's fonts-dejavu-core ships it.
DEJAVU_FILES: Mapping[str, str] = {
    "": "DejaVuSans.ttf",
    "B": "DejaVuSans-Bold.ttf",
    "I": "DejaVuSans-Oblique.ttf",
    "BI": "DejaVuSans-BoldOblique.ttf",
}
SYSTEM_FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    "~/.local/share/fonts",
    "~/.fonts",
    "/Library/Fonts",
    "/System/Library/Fonts",
    "C:/Windows/Fonts",
)
BASE_FONT_SIZE_PT = 9
MARGIN_MM = 18
# Headings in the body colour; fpdf2's default is dark red.
TAG_STYLES: Mapping[str, FontFace] = {
    "h1": TextStyle(font_size_pt=18, color="#222222", t_margin=4, b_margin=0.5),
    "h2": TextStyle(font_size_pt=14, color="#222222", t_margin=4, b_margin=0.5),
}


class _InvoiceHTML(HTML2FPDF):
    """fpdf2's HTML reader, with one fix: a table takes the font of the HTML around it.

    fpdf2 (2.8) sets a table in whatever font the PDF last drew with, so a paragraph that
    opens in bold (the seller's name) turned every later table bold.
    """

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        super().handle_starttag(tag, attrs)
        if tag == "table":  # the table reads the font at its first row, which comes next
            self.pdf.set_font(self.font_family, self.font_emphasis.style, self.font_size_pt)


class _InvoicePDF(FPDF):
    HTML2FPDF_CLASS = _InvoiceHTML


def render_pdf(doc: InvoiceDocument, template_dir: Path) -> bytes:
    """The invoice as PDF bytes, from the same `template_dir/invoice.html` as the HTML.

    Deterministic: the same document renders to the same bytes (the PDF's creation date is
    the invoice's issue time). CPU-bound (tens of milliseconds a page): async callers run it
    with `asyncio.to_thread`.
    """
    html = render_template(doc, template_dir, for_pdf=True)
    fonts = find_unicode_font(template_dir)
    pdf = _InvoicePDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(MARGIN_MM, MARGIN_MM, MARGIN_MM)
    pdf.set_auto_page_break(auto=True, margin=MARGIN_MM)
    issued = doc.issued_at if doc.issued_at.tzinfo else doc.issued_at.replace(tzinfo=UTC)
    pdf.set_creation_date(issued)
    pdf.set_lang(doc.locale)
    pdf.set_creator("billing")
    pdf.set_subject(f"Invoice {doc.number}")
    if fonts is not None:
        for style, path in fonts.items():
            pdf.add_font(UNICODE_FAMILY, style, str(path))
        family = UNICODE_FAMILY
    else:
        log.warning("no Unicode TTF font found; the PDF uses core Helvetica (Windows-1252)")
        pdf.core_fonts_encoding = CORE_ENCODING
        family = CORE_FAMILY
    pdf.add_page()
    pdf.set_font(family, size=BASE_FONT_SIZE_PT)
    try:
        pdf.write_html(
            html,
            image_map=lambda src: _image_path(src, template_dir),
            tag_styles=dict(TAG_STYLES),
            table_line_separators=True,
        )
        return bytes(pdf.output())
    except FPDFUnicodeEncodingException as exc:
        raise DocumentError(
            f"the PDF's font cannot draw {exc.character!r}: no Unicode TrueType font was found "
            f"(looked for {DEJAVU_FILES['']} in {template_dir / 'fonts'} and "
            f"{', '.join(SYSTEM_FONT_DIRS)}); install fonts-dejavu-core or put the DejaVu "
            "Sans files in the template directory's fonts/"
        ) from exc
    except FPDFException as exc:
        raise DocumentError(
            f"{template_dir / 'invoice.html'} cannot be drawn as PDF: {exc}"
        ) from exc
    except NotImplementedError as exc:  # fpdf2's word for HTML outside its subset
        raise DocumentError(
            f"{template_dir / 'invoice.html'} uses unsupported HTML: {exc}"
        ) from exc
    except OSError as exc:  # a logo that cannot be read
        raise DocumentError(f"cannot read an image for the PDF: {exc}") from exc


def find_unicode_font(template_dir: Path) -> dict[str, Path] | None:
    """DejaVu Sans files by fpdf2 style ("", "B", "I", "BI"), or None when the regular face
    is nowhere. A missing bold or italic face is stood in for by the regular one."""
    local = template_dir / "fonts"
    dirs = (local, *(Path(d).expanduser() for d in SYSTEM_FONT_DIRS))
    return _find_font(tuple(dirs))


@lru_cache(maxsize=8)
def _find_font(dirs: tuple[Path, ...]) -> dict[str, Path] | None:
    regular = _first(dirs, DEJAVU_FILES[""])
    if regular is None:
        return None
    found = {"": regular}
    for style, name in DEJAVU_FILES.items():
        if style:
            # Faces of one family live side by side; look there before searching again.
            sibling = regular.with_name(name)
            found[style] = sibling if sibling.is_file() else _first(dirs, name) or regular
    return found


def _first(dirs: Iterable[Path], name: str) -> Path | None:
    for directory in dirs:
        if not directory.is_dir():
            continue
        direct = directory / name
        if direct.is_file():
            return direct
        for match in sorted(directory.rglob(name)):
            if match.is_file():
                return match
    return None


def _image_path(src: str, template_dir: Path) -> str:
    """Images come from files (relative to the template directory) or data: URIs; the PDF
    renderer never fetches a URL."""
    if src.startswith("data:"):
        return src
    if "://" in src:
        raise DocumentError(f"image {src!r}: the PDF reads images from files only")
    path = Path(src)
    return str(path if path.is_absolute() else template_dir / path)
