"""Everything a running gateway owns, built once in the lifespan and kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from ..billing import Billing
from ..config import Settings
from ..db.accounts import AccountsRepo
from ..db.engine import create_engine, migrate
from ..db.idempotency import IdempotencyRepo
from ..db.ledger import LedgerRepo
from ..db.prices import PricesRepo
from ..db.usage import UsageRepo
from ..domain.catalog import Catalog
from ..domain.ports import CircuitStore
from ..providers.registry import default_registry
from ..routing.retry import RetryPolicy
from ..routing.router import Router
from ..service.admin import AdminService
from ..service.generation import ImageService
from ..service.routes import circuit_store
from ..storage.filesystem import FilesystemBlobStore
from ..storage.signing import UrlSigner
from .auth import Authenticator


@dataclass
class Components:
    settings: Settings
    catalog: Catalog
    engine: AsyncEngine
    http_client: httpx.AsyncClient
    accounts: AccountsRepo
    prices: PricesRepo
    ledger: LedgerRepo
    usage: UsageRepo
    signer: UrlSigner
    store: FilesystemBlobStore
    router: Router
    circuits: CircuitStore
    images: ImageService
    admin: AdminService
    authenticate: Authenticator

    async def aclose(self) -> None:
        await self.router.aclose()
        await self.circuits.aclose()
        await self.http_client.aclose()
        await self.engine.dispose()


async def build_components(settings: Settings) -> Components:
    engine = create_engine(settings.database_url)
    await migrate(engine)
    http_client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=200),
        timeout=httpx.Timeout(settings.upstream_timeout_seconds),
    )
    accounts = AccountsRepo(engine)
    prices = PricesRepo(engine)
    signer = UrlSigner(settings.signing_secret)
    store = FilesystemBlobStore(settings.data_dir / "images", signer, settings.base_url())
    circuits = circuit_store(settings)
    router = Router(
        settings.catalog,
        settings.credentials,
        default_registry(),
        http_client,
        policy=RetryPolicy(settings.retry_attempts, settings.retry_base_seconds, settings.retry_max_seconds),
        attempt_timeout=settings.upstream_timeout_seconds,
        deadline_seconds=settings.request_deadline_seconds,
        circuits=circuits,
    )
    ledger = LedgerRepo(engine)
    usage = UsageRepo(engine)
    billing = Billing(ledger, accounts, settings.hold_ttl_seconds)
    images = ImageService(
        settings.catalog,
        router,
        store,
        billing,
        prices,
        usage,
        IdempotencyRepo(engine),
        settings.url_ttl_seconds,
        settings.request_deadline_seconds,
    )
    return Components(
        settings=settings,
        catalog=settings.catalog,
        engine=engine,
        http_client=http_client,
        accounts=accounts,
        prices=prices,
        ledger=ledger,
        usage=usage,
        signer=signer,
        store=store,
        router=router,
        circuits=circuits,
        images=images,
        admin=AdminService(accounts, ledger, prices, usage, settings.catalog),
        authenticate=Authenticator(accounts),
    )


def components(request: Request) -> Components:
    return request.app.state.components  # type: ignore[no-any-return]


__all__ = ["Components", "build_components", "components"]
