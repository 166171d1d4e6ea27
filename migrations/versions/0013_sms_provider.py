"""SMS through a provider: template codes, BizId, errors and delivery receipts

Revision ID: 0013_sms_provider
Revises: 0012_error_workbooks
Create Date: 2026-11-29 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013_sms_provider'
down_revision = '0012_error_workbooks'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('template_code', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('biz_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('error_kind', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('error_code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column('checked_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('reported_at', sa.DateTime(), nullable=True))
        batch_op.create_index('ix_sms_message_state_checked', ['state', 'checked_at'], unique=False)

    with op.batch_alter_table('trainee_notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('params', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('sms_message_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_trainee_notice_sms_message', 'sms_message',
                                    ['sms_message_id'], ['id'])

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_purpose', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('sms_params', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('sms_attempts', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('sms_message_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_message_sms_message', 'sms_message',
                                    ['sms_message_id'], ['id'])


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint('fk_message_sms_message', type_='foreignkey')
        batch_op.drop_column('sms_message_id')
        batch_op.drop_column('sms_attempts')
        batch_op.drop_column('sms_params')
        batch_op.drop_column('sms_purpose')

    with op.batch_alter_table('trainee_notice', schema=None) as batch_op:
        batch_op.drop_constraint('fk_trainee_notice_sms_message', type_='foreignkey')
        batch_op.drop_column('sms_message_id')
        batch_op.drop_column('params')

    with op.batch_alter_table('sms_message', schema=None) as batch_op:
        batch_op.drop_index('ix_sms_message_state_checked')
        batch_op.drop_column('reported_at')
        batch_op.drop_column('checked_at')
        batch_op.drop_column('reason')
        batch_op.drop_column('error_code')
        batch_op.drop_column('error_kind')
        batch_op.drop_column('biz_id')
        batch_op.drop_column('template_code')
