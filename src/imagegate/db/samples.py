"""The examples gallery of the model pages: images an operator chose, with the prompt and the
parameters that made them. The bytes live in the BlobStore (`samples/<id>.<ext>`, never signed out
as a file URL); this table is what the pages list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, desc, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .tables import images, samples


@dataclass(frozen=True, slots=True)
class Sample:
    id: str
    model: str
    prompt: str
    params: dict[str, Any]
    ext: str
    width: int
    height: int
    source: str | None
    created_at: datetime

    @property
    def name(self) -> str:
        return f"{self.id}.{self.ext}"


@dataclass(frozen=True, slots=True)
class RecentImage:
    """A stored image as the admin pages offer it for the gallery."""

    id: str
    ext: str
    account_id: str
    model: str | None
    size: str | None
    expires: int


def _sample(row: Any) -> Sample:
    return Sample(
        row.id,
        row.model,
        row.prompt,
        json.loads(row.params),
        row.ext,
        int(row.width),
        int(row.height),
        row.source,
        row.created_at,
    )


class SamplesRepo:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, sample: Sample) -> None:
        values = {
            "id": sample.id,
            "model": sample.model,
            "prompt": sample.prompt,
            "params": json.dumps(sample.params, separators=(",", ":")),
            "ext": sample.ext,
            "width": sample.width,
            "height": sample.height,
            "source": sample.source,
            "created_at": sample.created_at,
        }
        async with self._engine.begin() as conn:
            await conn.execute(insert(samples).values(**values))

    async def of_model(self, model: str, limit: int) -> list[Sample]:
        """A model's samples, newest first."""
        query = select(samples).where(samples.c.model == model).order_by(desc(samples.c.created_at)).limit(limit)
        async with self._engine.connect() as conn:
            return [_sample(r) for r in (await conn.execute(query)).all()]

    async def all(self, limit: int) -> list[Sample]:
        query = select(samples).order_by(samples.c.model, desc(samples.c.created_at)).limit(limit)
        async with self._engine.connect() as conn:
            return [_sample(r) for r in (await conn.execute(query)).all()]

    async def get(self, sample_id: str) -> Sample | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(samples).where(samples.c.id == sample_id))).first()
        return _sample(row) if row is not None else None

    async def remove(self, sample_id: str) -> Sample | None:
        """Delete the row; the removed sample (its bytes are the caller's to delete), or None."""
        async with self._engine.begin() as conn:
            row = (await conn.execute(select(samples).where(samples.c.id == sample_id))).first()
            if row is None:
                return None
            await conn.execute(delete(samples).where(samples.c.id == sample_id))
        return _sample(row)

    async def recent_images(self, now: int, limit: int) -> list[RecentImage]:
        """The newest stored images still kept (any account's), for "use as sample"."""
        c = images.c
        query = (
            select(c.id, c.ext, c.account_id, c.model, c.size, c.expires_at)
            .where(c.expires_at > now)
            .order_by(desc(c.expires_at))
            .limit(limit)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [RecentImage(r.id, r.ext, r.account_id, r.model, r.size, int(r.expires_at)) for r in rows]

    async def image(self, image_id: str) -> RecentImage | None:
        c = images.c
        query = select(c.id, c.ext, c.account_id, c.model, c.size, c.expires_at).where(c.id == image_id)
        async with self._engine.connect() as conn:
            r = (await conn.execute(query)).first()
        return RecentImage(r.id, r.ext, r.account_id, r.model, r.size, int(r.expires_at)) if r is not None else None


__all__ = ["RecentImage", "Sample", "SamplesRepo"]
