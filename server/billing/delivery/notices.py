"""Dunning notices made and emailed (ADR 0043): the facts of a notice formatted as its
placeholders' values (the amount and date as the documents write them, in the customer's
locale), rendered from the templates read at start, and sent as plain-text email."""

from __future__ import annotations

from collections.abc import Mapping

from billing.app.ports import DeliveryError
from billing.delivery._settings import SmtpSettings
from billing.delivery._smtp import DeliveryFailed, send_text_email
from billing.delivery.mailer import seller_of
from billing.documents import DocumentError, Formatter
from billing.domain.customers import DEFAULT_LOCALE
from billing.domain.decline_reasons import decline_reason
from billing.domain.notices import (
    NO_NEXT_RETRY,
    NoticeFacts,
    NoticeTemplate,
    NoticeTemplateMissing,
    RenderedNotice,
    fill_update_method_url,
    render,
)
from billing.rules.model import RuleSet


class TemplateNotices:
    """Renders notices from the templates read at start."""

    def __init__(self, templates: Mapping[str, NoticeTemplate]) -> None:
        self._templates = templates

    def compose(self, template: str, facts: NoticeFacts, rules: RuleSet) -> RenderedNotice:
        """The notice `template` says for `facts`, under `rules` (the seller, the update
        link). Raises NoticeTemplateMissing for a template that was not loaded."""
        found = self._templates.get(template)
        if found is None:
            raise NoticeTemplateMissing(f"no notice template {template!r} is loaded")
        return render(found, notice_values(facts, rules))


def notice_values(facts: NoticeFacts, rules: RuleSet) -> dict[str, str]:
    """The placeholders' values for `facts`."""
    written = _formatter(facts)
    url = rules.dunning.update_method_url
    return {
        "customer_name": facts.customer_name,
        "invoice_number": facts.invoice_number,
        "amount": written.money(facts.amount_minor),
        "decline_reason": decline_reason(facts.decline_code),
        "update_method_url": fill_update_method_url(url, facts.customer_id, facts.invoice_id),
        "action_url": facts.action_url,
        "next_retry": written.date(facts.next_retry) if facts.next_retry else NO_NEXT_RETRY,
        "seller_name": seller_of(rules.invoicing, rules.tax).name,
    }


def _formatter(facts: NoticeFacts) -> Formatter:
    # A locale the customer record allows (any BCP 47 tag) may be one CLDR lacks: the
    # notice is still sent, written as the default locale writes it.
    try:
        return Formatter.for_document(facts.locale, facts.currency, facts.time_zone)
    except DocumentError:
        return Formatter.for_document(DEFAULT_LOCALE, facts.currency, facts.time_zone)


class SmtpNoticeMailer:
    """Notices by email through the server's SMTP settings."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, to: str, notice: RenderedNotice, reference: str) -> str:
        """Email `notice` to `to`; the Message-ID, made from `reference`. Raises
        DeliveryError: permanent for a refusal (5xx) or a message that cannot be built."""
        try:
            return await send_text_email(self._settings, to, notice.subject, notice.body, reference)
        except DeliveryFailed as failure:
            raise DeliveryError(str(failure), permanent=failure.permanent) from failure
        except ValueError as bad:  # an address or subject no server would take
            raise DeliveryError(str(bad), permanent=True) from bad
