"""The image library: what made each stored image (prompt, revised prompt, quality, cost, surface,
created), whether it has a thumbnail, and a search index over its prompt text.

PostgreSQL: `search`, a stored generated tsvector column (the 'simple' configuration: no stemming, no
stop words, the same on every node) with a GIN index. SQLite: the FTS5 table `images_fts`, whose rowid
an image keeps in `search_rowid` (ImagesRepo writes both in one transaction). Images stored before this
revision keep NULL prompts: they are listed, and no search finds them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SEARCH_TEXT = "to_tsvector('simple', coalesce(prompt, '') || ' ' || coalesce(revised_prompt, ''))"


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("created_at", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("prompt", sa.Text, nullable=True))
        batch.add_column(sa.Column("revised_prompt", sa.Text, nullable=True))
        batch.add_column(sa.Column("quality", sa.String(16), nullable=True))
        batch.add_column(sa.Column("cost_micros", sa.BigInteger, nullable=True))
        batch.add_column(sa.Column("surface", sa.String(16), nullable=True))
        batch.add_column(sa.Column("thumbnail", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("search_rowid", sa.BigInteger, nullable=True))
    op.drop_index("ix_images_account", "images")
    op.create_index("ix_images_account_id", "images", ["account_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(
            "images", sa.Column("search", postgresql.TSVECTOR, sa.Computed(SEARCH_TEXT, persisted=True), nullable=True)
        )
        op.create_index("ix_images_search", "images", ["search"], postgresql_using="gin")
    else:
        op.execute("CREATE VIRTUAL TABLE images_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 0')")
        op.create_index("ix_images_search_rowid", "images", ["search_rowid"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_images_search", "images")
        op.drop_column("images", "search")
    else:
        op.drop_index("ix_images_search_rowid", "images")
        op.execute("DROP TABLE images_fts")
    op.drop_index("ix_images_account_id", "images")
    op.create_index("ix_images_account", "images", ["account_id"])
    with op.batch_alter_table("images") as batch:
        for column in (
            "search_rowid",
            "thumbnail",
            "surface",
            "cost_micros",
            "quality",
            "revised_prompt",
            "prompt",
            "created_at",
        ):
            batch.drop_column(column)
