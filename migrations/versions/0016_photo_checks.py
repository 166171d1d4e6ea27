"""What the machine found in trainees' photos: photo_check (issue 20)

Revision ID: 0016_photo_checks
Revises: 0015_search_indexes
Create Date: 2026-11-29 14:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016_photo_checks'
down_revision = '0015_search_indexes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'photo_check',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('enrolment_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('photo_key', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('reading', sa.Text(), nullable=True),
        sa.Column('differences', sa.String(length=64), nullable=True),
        sa.Column('problem', sa.Text(), nullable=True),
        sa.Column('reason', sa.String(length=200), nullable=True),
        sa.Column('decided_by', sa.Integer(), nullable=True),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('queued_at', sa.DateTime(), nullable=False),
        sa.Column('checked_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['enrolment_id'], ['enrolment.id'],
                                name='fk_photo_check_enrolment_id'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('enrolment_id', 'kind', name='uq_photo_check_enrolment_kind'),
    )


def downgrade():
    op.drop_table('photo_check')
