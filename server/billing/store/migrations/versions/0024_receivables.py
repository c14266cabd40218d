"""Reserved for issue 17's postings' own tables, if they need any (ADR 0051); empty until that part
lands, so the parts can be built side by side without renumbering.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
