"""Reserved for issue 18's outbox relay to RabbitMQ and the event stream (ADR 0057); empty
until that part lands, so it can be built beside issue 17's parts without renumbering.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 07:35:00.000000
"""

from __future__ import annotations

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
