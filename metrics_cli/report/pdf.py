"""A report as a tagged PDF/UA-1 file: WeasyPrint over the HTML, with print.css and its
fonts loaded once per process."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from metrics_cli.report.html import STATIC_DIR

PDF_VARIANT = "pdf/ua-1"


@functools.cache
def print_styles() -> tuple[Any, Any]:
    """print.css parsed, and its fonts loaded, once per process: (stylesheet, font config).

    Every report of a process shares them, so the CSS is not parsed, nor the @font-face
    fonts registered with fontconfig, once per report."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    font_config = FontConfiguration()
    stylesheet = CSS(
        filename=str(STATIC_DIR / "print.css"), base_url=f"{STATIC_DIR}/", font_config=font_config
    )
    return stylesheet, font_config


def lay_out(html: str) -> Any:
    """The HTML (rendered without its stylesheet link) laid out in pages with print.css: a
    WeasyPrint document, whose boxes the layout tests read."""
    from weasyprint import HTML

    stylesheet, font_config = print_styles()
    return HTML(string=html, base_url=f"{STATIC_DIR}/").render(
        stylesheets=[stylesheet], font_config=font_config
    )


def write_pdf(html: str, path: Path) -> int:
    """A tagged PDF/UA-1 file from the HTML (rendered without its stylesheet link); returns
    the page count."""
    document = lay_out(html)
    document.write_pdf(path, pdf_variant=PDF_VARIANT)
    return len(document.pages)
