"""Reserved for issue 17's MRR positions, sharded totals and movements (ADR 0051); empty until that
part lands, so the parts can be built side by side without renumbering.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
