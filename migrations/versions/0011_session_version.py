"""users: session version ends sessions and API tokens on logout and password change

The column ab_user.session_version exists since 0004_accounts (server default 0; bumped
by password changes, and web sessions carry it). From this revision logout bumps it too
and API tokens carry it. Every session begun before the upgrade ends once: logouts
before it did not end the session on the server, so copies of such cookies still work.

Revision ID: 0011_session_version
Revises: 0010_person_identity
Create Date: 2026-11-29 07:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011_session_version'
down_revision = '0010_person_identity'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(sa.text("UPDATE ab_user SET session_version = session_version + 1"))


def downgrade():
    pass  # versions only ever grow; the previous release reads the column the same way
