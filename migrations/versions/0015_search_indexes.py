"""报名人员查询 pages in enrolment order without sorting every match: enrolment (created_at, id)
and (enterprise_id, created_at, id)

Revision ID: 0015_search_indexes
Revises: 0014_simulator_tables_apart
Create Date: 2026-11-29 12:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015_search_indexes'
down_revision = '0014_simulator_tables_apart'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.create_index('ix_enrolment_created_at_id', ['created_at', 'id'], unique=False)
        batch_op.create_index('ix_enrolment_enterprise_created_at_id',
                              ['enterprise_id', 'created_at', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_index('ix_enrolment_enterprise_created_at_id')
        batch_op.drop_index('ix_enrolment_created_at_id')
