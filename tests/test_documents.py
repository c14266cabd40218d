"""Invoice documents: the default template to HTML and PDF, locale formats, escaping."""

from __future__ import annotations

import hashlib
import io
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import babel
import fpdf
import pypdf
import pytest

import billing.documents._pdf as pdf_module
from billing.documents import (
    MAX_STEPS,
    BillTo,
    DocumentError,
    DocumentLine,
    Formatter,
    InvoiceDocument,
    LineExplanation,
    Seller,
    find_unicode_font,
    invoice_document,
    render_html,
    render_pdf,
)
from billing.domain.customers import Customer, CustomerFields, PostalAddress, TaxId
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.pricing import graduated
from billing.domain.subscriptions import Factor, Item, Line, period_fee_lines, settle
from billing.rules.model import Tier

TEMPLATES = Path(__file__).resolve().parents[1] / "rules" / "templates"
ISSUED = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PERIOD = (datetime(2026, 11, 24, tzinfo=UTC), datetime(2026, 12, 24, tzinfo=UTC))
DESCRIPTIONS = ("Pro plan x 1", "Seats x 5", "Unused time on Basic plan")


def make_doc(locale: str = "en-US", currency: str = "USD", **changes: object) -> InvoiceDocument:
    """Three lines, one a negative proration credit; subtotal 1,234.56."""
    lines = (
        DocumentLine(DESCRIPTIONS[0], *PERIOD, Decimal(1), Decimal("1000.00"), 100000),
        DocumentLine(DESCRIPTIONS[1], *PERIOD, Decimal(5), Decimal("50.00"), 25000),
        DocumentLine(
            DESCRIPTIONS[2],
            PERIOD[0],
            datetime(2026, 12, 10, tzinfo=UTC),
            Decimal(1),
            Decimal("-29.00"),
            -1544,
            "16/30 days",
        ),
    )
    doc = InvoiceDocument(
        seller=Seller(
            name="Acme GmbH",
            address_lines=("Hauptstraße 1", "10115 Berlin", "Germany"),
            legal_text="Amtsgericht Berlin HRB 12345\nUSt-IdNr. DE123456789",
        ),
        customer=BillTo(
            name="Müller & Söhne KG",
            address_lines=("Königsallee 5", "40212 Düsseldorf"),
            tax_ids=(TaxId("eu_vat", "DE999999999"),),
        ),
        number="INV-2026-0042",
        status="open",
        issued_at=ISSUED,
        due_at=datetime(2026, 12, 8, 9, 0, tzinfo=UTC),
        currency=currency,
        locale=locale,
        time_zone="Europe/Berlin",
        lines=lines,
        subtotal_minor=123456,
        discount_minor=1000,
        tax_minor=0,
        total_minor=122456,
        credit_applied_minor=2000,
        amount_due_minor=120456,
    )
    return replace(doc, **changes)  # type: ignore[arg-type]


def pdf_text(data: bytes) -> str:
    """All pages' text, whitespace (no-break spaces included) collapsed to single spaces."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return squash(" ".join(page.extract_text() for page in reader.pages))


def squash(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


# --- HTML ---------------------------------------------------------------------------------


def test_html_holds_number_lines_and_localized_total() -> None:
    html = render_html(make_doc(), TEMPLATES)

    assert "INV-2026-0042" in html
    for description in DESCRIPTIONS:
        assert description in html
    assert "$1,224.56" in html  # the total
    assert "-$15.44" in html  # the proration credit
    assert "(prorated 16/30 days)" in html
    assert "Nov 24, 2026" in html  # issue date, en-US
    assert "Müller &amp; Söhne KG" in html
    assert "EU VAT: DE999999999" in html
    assert "USt-IdNr. DE123456789" in html


def test_html_in_german() -> None:
    html = render_html(make_doc("de-DE", "EUR"), TEMPLATES)

    assert "1.224,56\xa0€" in html  # the total
    assert "-15,44\xa0€" in html
    assert "24.11.2026" in html
    assert '<html lang="de-DE">' in html


def test_html_escapes_descriptions() -> None:
    doc = make_doc()
    evil = replace(doc.lines[1], description='Seats <script>alert("x")</script>')
    html = render_html(replace(doc, lines=(doc.lines[0], evil, doc.lines[2])), TEMPLATES)

    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def test_html_shows_deductions_only_when_there_are_any() -> None:
    doc = make_doc(discount_minor=0, total_minor=123456, credit_applied_minor=0)

    html = render_html(replace(doc, amount_due_minor=123456), TEMPLATES)

    assert "Discounts" not in html
    assert "Credit applied" not in html
    assert "Tax" in html


def test_draft_is_marked() -> None:
    assert "DRAFT Invoice INV-2026-0042" in render_html(make_doc(status="draft"), TEMPLATES)


def test_finance_template_is_used_and_fails_loudly(tmp_path: Path) -> None:
    (tmp_path / "invoice.html").write_text("<p>{{ invoice.number }} {{ totals.amount_due }}</p>")
    assert render_html(make_doc(), tmp_path) == "<p>INV-2026-0042 $1,204.56</p>"

    (tmp_path / "invoice.html").write_text("<p>{{ invoice.numbr }}</p>")
    with pytest.raises(DocumentError, match="numbr"):
        render_html(make_doc(), tmp_path)

    (tmp_path / "invoice.html").write_text("<p>{% if %}</p>")
    with pytest.raises(DocumentError, match=r"invoice\.html:1"):
        render_html(make_doc(), tmp_path)

    with pytest.raises(DocumentError, match=r"no invoice\.html"):
        render_html(make_doc(), tmp_path / "missing")


# --- formats ------------------------------------------------------------------------------


def test_same_amount_in_german_and_american() -> None:
    de = Formatter.for_document("de-DE", "EUR", "Europe/Berlin")
    us = Formatter.for_document("en-US", "USD", "America/New_York")

    assert de.money(123456) == "1.234,56\xa0€"
    assert us.money(123456) == "$1,234.56"
    assert Formatter.for_document("en-US", "EUR", "UTC").money(123456) == "€1,234.56"
    assert de.money(-1544) == "-15,44\xa0€"
    assert us.money(-1544) == "-$15.44"
    assert de.number(Decimal("2.5")) == "2,5"
    assert us.number(Decimal("1234.5")) == "1,234.5"


def test_dates_in_the_documents_locale_and_time_zone() -> None:
    de = Formatter.for_document("de-DE", "EUR", "Europe/Berlin")
    us = Formatter.for_document("en-US", "USD", "America/New_York")
    noon = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    late = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)  # already the 25th in Berlin

    assert de.date(noon) == "24.11.2026"
    assert us.date(noon) == "Nov 24, 2026"
    assert de.date(late) == "25.11.2026"
    assert us.date(late) == "Nov 24, 2026"
    assert us.date(datetime(2026, 11, 24, 12, 0)) == "Nov 24, 2026"  # naive is UTC
    assert us.date(None) == ""


def test_amounts_are_exact_in_the_iso_minor_unit() -> None:
    us = Formatter.for_document("en-US", "USD", "UTC")

    # CLDR shows IQD without decimals; ISO 4217 has 3, and rounding them away would lie.
    assert Formatter.for_document("en-US", "IQD", "UTC").money(1234567) == "IQD\xa01,234.567"
    assert Formatter.for_document("en-US", "CHF", "UTC").money(-1250) == "-CHF\xa012.50"
    assert Formatter.for_document("ja-JP", "JPY", "Asia/Tokyo").money(1234) == "￥1,234"
    assert us.amount(Decimal("0.0004")) == "$0.0004"  # a unit price finer than a cent
    assert us.amount(Decimal("12.5")) == "$12.50"


def test_bad_locale_time_zone_or_currency_is_a_document_error() -> None:
    with pytest.raises(DocumentError, match="unknown locale 'xx-YY'"):
        render_html(make_doc(locale="xx-YY"), TEMPLATES)
    with pytest.raises(DocumentError, match="not an IANA time zone"):
        render_html(make_doc(time_zone="Mars/Olympus"), TEMPLATES)
    with pytest.raises(DocumentError, match="ISO 4217"):
        render_html(make_doc(currency="XYZ"), TEMPLATES)


def test_subtotal_must_be_the_sum_of_the_lines() -> None:
    with pytest.raises(DocumentError, match="sum of the lines"):
        make_doc(subtotal_minor=1)


# --- PDF ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "currency", "total", "issued"),
    [
        ("en-US", "USD", "$1,224.56", "Nov 24, 2026"),
        ("de-DE", "EUR", "1.224,56 €", "24.11.2026"),
    ],
)
def test_pdf_holds_number_lines_and_total(
    locale: str, currency: str, total: str, issued: str
) -> None:
    data = render_pdf(make_doc(locale, currency), TEMPLATES)

    assert data.startswith(b"%PDF-")
    text = pdf_text(data)
    assert "INV-2026-0042" in text
    for description in DESCRIPTIONS:
        assert description in text
    assert f"Total {total}" in text
    assert issued in text
    assert "Müller & Söhne KG" in text


def test_pdf_escaped_description_reads_back_as_written() -> None:
    doc = make_doc()
    odd = replace(doc.lines[1], description="Seats <script>x</script> & more")

    data = render_pdf(replace(doc, lines=(doc.lines[0], odd, doc.lines[2])), TEMPLATES)

    assert "Seats <script>x</script> & more" in pdf_text(data)


# SHA-256 of make_doc("de-DE", "EUR") as PDF in the core font (the system's fonts left out,
# so the bytes do not depend on which DejaVu build a machine has). It changes when the
# template, fpdf2 or babel's CLDR data change the document: look at the new PDF, then record
# its digest here.
PDF_SHA256 = "5c26f34955200751e7ef400e43dec936a4e738bc0957e98a95f07496a5684a64"


def test_pdf_is_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf_module, "find_unicode_font", lambda template_dir: None)
    doc = make_doc("de-DE", "EUR")

    data = render_pdf(doc, TEMPLATES)

    # The creation date is the issue time (2026-11-24 09:00 UTC), never the wall clock.
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert reader.metadata is not None
    assert reader.metadata.creation_date == ISSUED
    assert b"/CreationDate (D:20261124090000Z)" in data
    assert hashlib.sha256(data).hexdigest() == PDF_SHA256, (
        f"fpdf2 {fpdf.__version__}, babel {babel.__version__}: the PDF changed"
    )
    later = render_pdf(replace(doc, issued_at=datetime(2027, 1, 2, tzinfo=UTC)), TEMPLATES)
    assert b"/CreationDate (D:20270102000000Z)" in later


def test_pdf_embeds_a_unicode_font_when_the_machine_has_one() -> None:
    fonts = find_unicode_font(TEMPLATES)
    if fonts is None:
        pytest.skip("no DejaVu Sans on this machine (Debian: fonts-dejavu-core)")

    reader = pypdf.PdfReader(io.BytesIO(render_pdf(make_doc("de-DE", "EUR"), TEMPLATES)))
    font_names = {
        str(font.get_object()["/BaseFont"])
        for font in reader.pages[0]["/Resources"]["/Font"].values()
    }
    assert any("DejaVuSans" in name for name in font_names), font_names


def test_without_a_unicode_font_core_fonts_serve_western_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pdf_module, "find_unicode_font", lambda template_dir: None)

    text = pdf_text(render_pdf(make_doc("de-DE", "EUR"), TEMPLATES))
    assert "Total 1.224,56 €" in text  # Windows-1252 has the euro sign

    with pytest.raises(DocumentError, match="fonts-dejavu-core"):
        render_pdf(make_doc("pl-PL", "PLN"), TEMPLATES)  # "zł" is beyond it


def test_pdf_logo_from_the_template_directory(tmp_path: Path) -> None:
    from PIL import Image  # fpdf2's own dependency

    shutil.copy(TEMPLATES / "invoice.html", tmp_path / "invoice.html")
    Image.new("RGB", (120, 40), (20, 60, 160)).save(tmp_path / "logo.png")
    doc = make_doc()
    with_logo = replace(doc, seller=replace(doc.seller, logo_path="logo.png"))

    assert '<img src="logo.png"' in render_html(with_logo, tmp_path)
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(with_logo, tmp_path)))
    assert len(reader.pages[0].images) == 1

    remote = replace(doc, seller=replace(doc.seller, logo_path="https://example.com/l.png"))
    with pytest.raises(DocumentError, match="files only"):
        render_pdf(remote, tmp_path)


# --- from the domain ----------------------------------------------------------------------


def test_document_from_a_domain_invoice() -> None:
    lines = (
        Line("Pro plan x 1", "pro", Decimal(1), Decimal("100"), Decimal("100"), 10000, *PERIOD),
        Line(
            "Unused time on Basic plan",
            "basic",
            Decimal(1),
            Decimal("-20"),
            Decimal("-10.6666"),
            -1067,
            *PERIOD,
            proration=True,
            factor="16/30 days",
        ),
    )
    settlement = settle(lines, credit_balance_minor=500)
    invoice = Invoice(
        id="in_1",
        customer_id="cus_1",
        subscription_id="sub_1",
        currency="EUR",
        status=InvoiceStatus.OPEN,
        billing_reason="subscription_update",
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        lines=lines,
        settlement=settlement,
        rule_set="v1",
        created_at=ISSUED,
        finalized_at=ISSUED,
    )
    customer = Customer(
        id="cus_1",
        fields=CustomerFields(
            display_name="Jane",
            currency_code="EUR",
            time_zone="Europe/Berlin",
            locale="de-DE",
            billing_address=PostalAddress(
                region_code="DE",
                postal_code="40212",
                locality="Düsseldorf",
                address_lines=("Königsallee 5",),
                organization="Müller & Söhne KG",
            ),
        ),
        version=1,
        create_time=ISSUED,
        update_time=ISSUED,
    )

    doc = invoice_document(invoice, customer, Seller("Acme GmbH"), number="A-1", issued_at=ISSUED)

    assert doc.customer.name == "Müller & Söhne KG"
    assert doc.customer.address_lines == ("Königsallee 5", "40212 Düsseldorf", "DE")
    assert (doc.total_minor, doc.credit_applied_minor, doc.amount_due_minor) == (8933, 500, 8433)
    assert doc.lines[1].proration == "16/30 days"
    text = pdf_text(render_pdf(doc, TEMPLATES))
    assert "Total 89,33 €" in text
    assert "Amount due 84,33 €" in text


# --- explanations -------------------------------------------------------------------------

RULE_SET = "3f2a9c1b7d4e" + "0" * 52  # a SHA-256 hex digest
STUB = (datetime(2026, 4, 16, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC))
HEADING = "How each line was calculated"
DASH, TIMES = "\N{EN DASH}", "\N{MULTIPLICATION SIGN}"


def explained_invoice() -> Invoice:
    """A prorated stub period (15 of 30 days of 49.99) and a graduated usage line (150 units:
    100 at 0.10, 50 at 0.05), with the derivations billing stores for them."""
    [fee] = period_fee_lines(
        [Item(None, 1, Decimal("49.99"), "Pro plan", Decimal("49.99"))],
        "USD",
        "half_up",
        STUB,
        Factor(15, 30, "days"),
    )
    priced = graduated(Decimal(150), [Tier(100, Decimal("0.10")), Tier(None, Decimal("0.05"))])
    usage = Line(
        "API calls: 150 calls",
        "api_calls",
        Decimal(150),
        Decimal("0.10"),
        priced.amount,
        1250,
        *STUB,
        kind="usage",
        derivation={  # as usage billing writes it
            "rule_entry": "prices/api_calls",
            "metric": "api_calls",
            "group": None,
            "unrounded": str(priced.amount),
            "rounding": "half_up",
            "steps": [
                f"{s.description}: {s.quantity} x {s.unit_amount} + {s.flat_amount} = {s.amount}"
                for s in priced.steps
            ],
        },
    )
    lines = (fee, usage)
    return Invoice(
        id="in_2",
        customer_id="cus_1",
        subscription_id="sub_1",
        currency="USD",
        status=InvoiceStatus.OPEN,
        billing_reason="subscription_create",
        period_start=STUB[0],
        period_end=STUB[1],
        lines=lines,
        settlement=settle(lines, credit_balance_minor=0),
        rule_set=RULE_SET,
        created_at=ISSUED,
        finalized_at=ISSUED,
    )


def explained_doc(locale: str = "en-US", *, show: bool = True) -> InvoiceDocument:
    customer = Customer(
        id="cus_1",
        fields=CustomerFields(
            display_name="Jane", currency_code="USD", time_zone="UTC", locale=locale
        ),
        version=1,
        create_time=ISSUED,
        update_time=ISSUED,
    )
    return invoice_document(
        explained_invoice(),
        customer,
        Seller("Acme Inc."),
        number="A-2",
        issued_at=ISSUED,
        show_explanations=show,
    )


def test_pdf_explains_a_prorated_line() -> None:
    text = pdf_text(render_pdf(explained_doc(), TEMPLATES))

    explanation = text[text.index(HEADING) :]
    assert "Calculated with rule set version 3f2a9c1b7d4e." in explanation
    assert RULE_SET not in text  # the short form, once
    assert (
        f"1. Pro plan x 1 x 15/30 days Period: Apr 16, 2026 {DASH} May 1, 2026 "
        "Proration: 15/30 days Rule entry: plan flat fee "
        "Unrounded: $24.995 Rounded half up to 0.01: $25.00"
    ) in explanation


def test_pdf_explains_a_tiered_usage_line() -> None:
    text = pdf_text(render_pdf(explained_doc(), TEMPLATES))

    assert (
        f"2. API calls: 150 calls Period: Apr 16, 2026 {DASH} May 1, 2026 "
        "Rule entry: prices/api_calls (metric api_calls) "
        f"• units 1 to 100: 100 {TIMES} 0.10 = 10.00 "
        f"• units 101 and up: 50 {TIMES} 0.05 = 2.50 "
        "Unrounded: $12.50 Rounded half up to 0.01: $12.50"
    ) in text


def test_explanations_use_the_documents_locale() -> None:
    html = squash(render_html(explained_doc("de-DE"), TEMPLATES))

    assert f"Period: 16.04.2026 {DASH} 01.05.2026" in html
    assert "Proration: 15/30 days" in html
    assert f"units 101 and up: 50 {TIMES} 0,05 = 2,50" in html
    assert "Unrounded: 24,995 $<br> Rounded half up to 0,01: 25,00 $" in html


def test_explanations_are_left_out_when_switched_off() -> None:
    doc = explained_doc(show=False)

    assert HEADING not in render_html(doc, TEMPLATES)
    text = pdf_text(render_pdf(doc, TEMPLATES))
    assert HEADING not in text
    assert "3f2a9c1b7d4e" not in text
    assert "units 1 to 100" not in text
    assert "Pro plan x 1 x 15/30 days" in text  # the lines themselves are still there
    assert HEADING not in render_html(make_doc(), TEMPLATES)  # off unless asked for


def test_a_line_without_a_derivation_is_explained_by_what_it_has() -> None:
    doc = make_doc(show_explanations=True)  # hand-made lines: no derivation, no rule set

    text = pdf_text(render_pdf(doc, TEMPLATES))
    assert "Calculated with rule set version" not in text
    assert (
        f"3. Unused time on Basic plan Period: Nov 24, 2026 {DASH} Dec 10, 2026 "
        "Proration: 16/30 days Amount: -$15.44"
    ) in text


def test_odd_and_excessive_steps_are_printed_as_written_and_counted() -> None:
    doc = make_doc(show_explanations=True)
    steps = ["a plugin's own words", *(f"step {n}: 1 x 1 + 0 = 1" for n in range(MAX_STEPS))]

    def explain(derivation: dict[str, object]) -> LineExplanation:
        line = Line("x", None, Decimal(1), Decimal(1), Decimal(1), 100, *PERIOD)
        return LineExplanation.from_line(replace(line, derivation=derivation))

    assert explain({"steps": "units 1 to 100"}).steps == ()  # not a list: no steps
    why = explain({"steps": steps, "base": "not a number"})
    assert (len(why.steps), why.steps_left_out, why.base) == (MAX_STEPS, 1, None)
    line = replace(doc.lines[0], explanation=why)
    html = squash(render_html(replace(doc, lines=(line, *doc.lines[1:])), TEMPLATES))
    assert "&bull; a plugin&#39;s own words<br>" in html
    assert f"&bull; step 1: 1 {TIMES} 1 = 1<br>" in html
    assert f"step {MAX_STEPS - 1}:" not in html
    assert "&bull; and 1 more steps<br>" in html
