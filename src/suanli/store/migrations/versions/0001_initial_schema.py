"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 21:45:36.136179
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import suanli.store.types

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accelerator_models',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('vendor', sa.String(length=100), nullable=False),
    sa.Column('memory_gib', suanli.store.types.ExactDecimal(precision=24, scale=6), nullable=False),
    sa.Column('fp16_tflops', suanli.store.types.ExactDecimal(precision=24, scale=6), nullable=False),
    sa.Column('stack', sa.String(length=16), nullable=False),
    sa.Column('domestic', sa.Boolean(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('aliases', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=128), nullable=False),
    sa.Column('updated_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_accelerator_models'))
    )
    op.create_table('tenants',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('sme', sa.Boolean(), nullable=False),
    sa.Column('registered_city', sa.String(length=100), nullable=False),
    sa.Column('industry', sa.String(length=100), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tenants')),
    sa.UniqueConstraint('name', name=op.f('uq_tenants_name'))
    )
    op.create_table('centres',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('operator_tenant_id', sa.String(length=64), nullable=False),
    sa.Column('engine', sa.String(length=32), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('district', sa.String(length=100), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('last_heartbeat_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('agent_info', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['operator_tenant_id'], ['tenants.id'], name=op.f('fk_centres_operator_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_centres')),
    sa.UniqueConstraint('name', name=op.f('uq_centres_name'))
    )
    with op.batch_alter_table('centres', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_centres_operator_tenant_id'), ['operator_tenant_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_users_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('name', name=op.f('uq_users_name'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('centre_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('expires_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('last_used_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_api_tokens_centre_id_centres')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('secret_hash', name=op.f('uq_api_tokens_secret_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_centre_id'), ['centre_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('spec', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('submitted_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('updated_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=255), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('restarts', sa.Integer(), nullable=False),
    sa.Column('requeues', sa.Integer(), nullable=False),
    sa.Column('cancel_requested_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('state_reason', sa.Text(), nullable=False),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('finished_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('pending_reasons', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_jobs_tenant_id_tenants')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_jobs_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('tenant_id', 'idempotency_key', name='uq_jobs_tenant_idempotency_key')
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_state'), ['state'], unique=False)
        batch_op.create_index('ix_jobs_tenant_id_id', ['tenant_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_user_id'), ['user_id'], unique=False)

    op.create_table('pools',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('centre_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('nodes', sa.Integer(), nullable=False),
    sa.Column('accelerators_per_node', sa.Integer(), nullable=False),
    sa.Column('cpus_per_node', sa.Integer(), nullable=False),
    sa.Column('memory_gib_per_node', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('nodes_up', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_pools_centre_id_centres')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pools')),
    sa.UniqueConstraint('centre_id', 'name', name='uq_pools_centre_name')
    )
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pools_centre_id'), ['centre_id'], unique=False)

    op.create_table('job_attempts',
    sa.Column('id', sa.String(length=80), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('centre_id', sa.String(length=64), nullable=False),
    sa.Column('pool_id', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('per_node', sa.Integer(), nullable=False),
    sa.Column('cpus_per_node', sa.Float(), nullable=False),
    sa.Column('memory_gib_per_node', sa.Float(), nullable=False),
    sa.Column('node_indices', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('price', suanli.store.types.ExactDecimal(precision=24, scale=6), nullable=False),
    sa.Column('price_card_id', sa.String(length=64), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('placed_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('leased_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('started_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('ended_at', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('log_bytes', sa.BigInteger(), nullable=False),
    sa.Column('log_truncated', sa.Boolean(), nullable=False),
    sa.Column('devices', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_job_attempts_centre_id_centres')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_attempts_job_id_jobs')),
    sa.ForeignKeyConstraint(['pool_id'], ['pools.id'], name=op.f('fk_job_attempts_pool_id_pools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_attempts'))
    )
    with op.batch_alter_table('job_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_attempts_centre_id'), ['centre_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_attempts_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_attempts_pool_id'), ['pool_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_attempts_state'), ['state'], unique=False)

    op.create_table('job_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_job_events_job_id_jobs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_events'))
    )
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_events_job_id'), ['job_id'], unique=False)

    op.create_table('price_cards',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('pool_id', sa.String(length=64), nullable=False),
    sa.Column('price', suanli.store.types.ExactDecimal(precision=24, scale=6), nullable=False),
    sa.Column('unit', sa.String(length=32), nullable=False),
    sa.Column('preemptible_discount', suanli.store.types.ExactDecimal(precision=24, scale=6), nullable=False),
    sa.Column('valid_from', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('valid_to', suanli.store.types.UTCDateTime(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['pool_id'], ['pools.id'], name=op.f('fk_price_cards_pool_id_pools')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_cards'))
    )
    with op.batch_alter_table('price_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_price_cards_pool_id'), ['pool_id'], unique=False)

    op.create_table('log_chunks',
    sa.Column('attempt_id', sa.String(length=80), nullable=False),
    sa.Column('start', sa.BigInteger(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['job_attempts.id'], name=op.f('fk_log_chunks_attempt_id_job_attempts')),
    sa.PrimaryKeyConstraint('attempt_id', 'start', name=op.f('pk_log_chunks'))
    )
    op.create_table('usage_records',
    sa.Column('attempt_id', sa.String(length=80), nullable=False),
    sa.Column('job_id', sa.String(length=64), nullable=False),
    sa.Column('tenant_id', sa.String(length=64), nullable=False),
    sa.Column('centre_id', sa.String(length=64), nullable=False),
    sa.Column('pool_id', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('accelerators', sa.Integer(), nullable=False),
    sa.Column('accelerator_seconds', sa.Float(), nullable=False),
    sa.Column('cpu_seconds', sa.Float(), nullable=False),
    sa.Column('wall_seconds', sa.Float(), nullable=False),
    sa.Column('started_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('ended_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.Column('recorded_at', suanli.store.types.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['job_attempts.id'], name=op.f('fk_usage_records_attempt_id_job_attempts')),
    sa.ForeignKeyConstraint(['centre_id'], ['centres.id'], name=op.f('fk_usage_records_centre_id_centres')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_usage_records_job_id_jobs')),
    sa.ForeignKeyConstraint(['pool_id'], ['pools.id'], name=op.f('fk_usage_records_pool_id_pools')),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_usage_records_tenant_id_tenants')),
    sa.PrimaryKeyConstraint('attempt_id', name=op.f('pk_usage_records'))
    )
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usage_records_centre_id'), ['centre_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_records_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_usage_records_tenant_id'), ['tenant_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('usage_records', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usage_records_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_usage_records_job_id'))
        batch_op.drop_index(batch_op.f('ix_usage_records_centre_id'))

    op.drop_table('usage_records')
    op.drop_table('log_chunks')
    with op.batch_alter_table('price_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_price_cards_pool_id'))

    op.drop_table('price_cards')
    with op.batch_alter_table('job_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_events_job_id'))

    op.drop_table('job_events')
    with op.batch_alter_table('job_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_attempts_state'))
        batch_op.drop_index(batch_op.f('ix_job_attempts_pool_id'))
        batch_op.drop_index(batch_op.f('ix_job_attempts_job_id'))
        batch_op.drop_index(batch_op.f('ix_job_attempts_centre_id'))

    op.drop_table('job_attempts')
    with op.batch_alter_table('pools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pools_centre_id'))

    op.drop_table('pools')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_user_id'))
        batch_op.drop_index('ix_jobs_tenant_id_id')
        batch_op.drop_index(batch_op.f('ix_jobs_state'))
        batch_op.drop_index(batch_op.f('ix_jobs_name'))

    op.drop_table('jobs')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
        batch_op.drop_index(batch_op.f('ix_api_tokens_centre_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_tenant_id'))

    op.drop_table('users')
    with op.batch_alter_table('centres', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_centres_operator_tenant_id'))

    op.drop_table('centres')
    op.drop_table('tenants')
    op.drop_table('accelerator_models')
