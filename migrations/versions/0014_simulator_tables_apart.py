"""The simulators' tables leave the production schema

alipay_sim_trade (the Alipay gateway simulator's trades) and ministry_receipt (the built-in
ministry receiver's receipts) belong to the simulators (app/integrations/simulators.py): they
are dropped here, and migrations/env.py creates them again, after the upgrade, only where a
simulator is mounted (the embedded default), never in production.

Revision ID: 0014_simulator_tables_apart
Revises: 0013_sms_provider
Create Date: 2026-11-29 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014_simulator_tables_apart'
down_revision = '0013_sms_provider'
branch_labels = None
depends_on = None

TABLES = ('alipay_sim_trade', 'ministry_receipt')


def _existing() -> set:
    return set(sa.inspect(op.get_bind()).get_table_names())


def upgrade():
    existing = _existing()
    for name in TABLES:
        if name in existing:
            op.drop_table(name)


def downgrade():
    # As 0006_orders and 0007_assessment made them (a simulator may have made them already).
    existing = _existing()
    if 'alipay_sim_trade' not in existing:
        op.create_table('alipay_sim_trade',
        sa.Column('out_trade_no', sa.String(length=64), nullable=False),
        sa.Column('app_id', sa.String(length=32), nullable=False),
        sa.Column('subject', sa.String(length=256), nullable=False),
        sa.Column('total_amount', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('notify_url', sa.Text(), nullable=True),
        sa.Column('return_url', sa.Text(), nullable=True),
        sa.Column('time_expire', sa.DateTime(), nullable=True),
        sa.Column('status', sa.String(length=24), nullable=False),
        sa.Column('trade_no', sa.String(length=64), nullable=True),
        sa.Column('refunded', sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column('refund_request_no', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('paid_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('out_trade_no'),
        sa.UniqueConstraint('trade_no')
        )
    if 'ministry_receipt' not in existing:
        op.create_table('ministry_receipt',
        sa.Column('number', sa.String(length=32), nullable=False),
        sa.Column('payload', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.Column('deliveries', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('number')
        )
