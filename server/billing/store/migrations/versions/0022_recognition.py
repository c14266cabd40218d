"""Reserved for issue 17's recognition schedules and their postings (ADR 0051); empty until that
part lands, so the parts can be built side by side without renumbering.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
