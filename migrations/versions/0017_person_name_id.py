"""报名人员查询 by name pages in index order: person (name, id) in place of person (name)

Revision ID: 0017_person_name_id
Revises: 0016_photo_checks
Create Date: 2026-11-29 14:00:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0017_person_name_id'
down_revision = '0016_photo_checks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_name_id', ['name', 'id'], unique=False)
        batch_op.drop_index('ix_person_name')


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.create_index('ix_person_name', ['name'], unique=False)
        batch_op.drop_index('ix_person_name_id')
