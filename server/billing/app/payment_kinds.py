"""The payments' due-work kinds (ADR 0034), apart so finalization can schedule collection
without importing the charging machinery."""

from __future__ import annotations

COLLECT_INVOICE = "collect_invoice"  # subject: the invoice
RECONCILE_ATTEMPT = "reconcile_attempt"  # subject: the attempt
