"""Reserved for issue 17's accounting periods and their closing (the ledger's integrity part) (ADR
0051); empty until that part lands, so the parts can be built side by side without renumbering.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
