"""marked error workbooks of failed uploads, kept as rows and purged

Revision ID: 0012_error_workbooks
Revises: 0011_session_version
Create Date: 2026-11-29 07:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_error_workbooks'
down_revision = '0011_session_version'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('error_workbook',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['ab_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'kind', name='uq_error_workbook_user_kind')
    )
    with op.batch_alter_table('error_workbook', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_error_workbook_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('error_workbook', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_error_workbook_created_at'))

    op.drop_table('error_workbook')
