"""person identity; contact and qualification data move to the enrolment

A person row is shared by every enterprise that enrols the same ID number, so it keeps only the
identity (number, name, and what the number says). Mobile, education and title become each
enrolment's own snapshot, copied from the person row they were read from until now.

Revision ID: 0010_person_identity
Revises: 0009_notifications
Create Date: 2026-11-29 07:05:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010_person_identity'
down_revision = '0009_notifications'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile', sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column('education_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('title_id', sa.Integer(), nullable=True))
    for column in ('mobile', 'education_id', 'title_id'):
        op.execute(f"UPDATE enrolment SET {column} = "
                   f"(SELECT person.{column} FROM person WHERE person.id = enrolment.person_id)")
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.alter_column('mobile', existing_type=sa.String(length=11), nullable=False)
        batch_op.alter_column('education_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('title_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_enrolment_mobile'), ['mobile'], unique=False)
        batch_op.create_foreign_key('fk_enrolment_education_id', 'dict_education',
                                    ['education_id'], ['id'])
        batch_op.create_foreign_key('fk_enrolment_title_id', 'dict_professional_title',
                                    ['title_id'], ['id'])
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_mobile'))
        batch_op.drop_column('mobile')
        batch_op.drop_column('education_id')
        batch_op.drop_column('title_id')


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile', sa.String(length=11), nullable=True))
        batch_op.add_column(sa.Column('education_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('title_id', sa.Integer(), nullable=True))
    for column in ('mobile', 'education_id', 'title_id'):  # the latest enrolment's snapshot
        op.execute(f"UPDATE person SET {column} = (SELECT enrolment.{column} FROM enrolment "
                   f"WHERE enrolment.person_id = person.id ORDER BY enrolment.id DESC LIMIT 1)")
    op.execute("UPDATE person SET mobile = '' WHERE mobile IS NULL")
    op.execute("UPDATE person SET education_id = (SELECT min(id) FROM dict_education) "
               "WHERE education_id IS NULL")
    op.execute("UPDATE person SET title_id = (SELECT min(id) FROM dict_professional_title) "
               "WHERE title_id IS NULL")
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('mobile', existing_type=sa.String(length=11), nullable=False)
        batch_op.alter_column('education_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('title_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_person_mobile'), ['mobile'], unique=False)
        batch_op.create_foreign_key('fk_person_education_id', 'dict_education',
                                    ['education_id'], ['id'])
        batch_op.create_foreign_key('fk_person_title_id', 'dict_professional_title',
                                    ['title_id'], ['id'])
    with op.batch_alter_table('enrolment', schema=None) as batch_op:
        batch_op.drop_constraint('fk_enrolment_title_id', type_='foreignkey')
        batch_op.drop_constraint('fk_enrolment_education_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_enrolment_mobile'))
        batch_op.drop_column('title_id')
        batch_op.drop_column('education_id')
        batch_op.drop_column('mobile')
