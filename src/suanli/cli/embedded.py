"""`suanli up`: the embedded default. One process: SQLite in $SUANLI_HOME/data, the API server with its
scheduler loop, and an in-process agent on the local engine for every local centre of the demo city."""

from __future__ import annotations

import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from rich.console import Console

from suanli.agent.client import AgentClient
from suanli.agent.loop import Agent
from suanli.api.app import create_app
from suanli.backends.local import LocalBackend, LocalPool
from suanli.cli.credentials import Credentials, load_credentials, save_credentials
from suanli.config import Settings
from suanli.domain.centres import EngineKind
from suanli.domain.errors import Unauthenticated
from suanli.domain.tenants import Principal, Role
from suanli.service import agents as agent_service
from suanli.service.auth import authenticate, mint_agent_token
from suanli.service.context import Context
from suanli.service.demo import DEMO_USER, demo_user_token, seed_demo_city
from suanli.service.tenants import bootstrap
from suanli.store.uow import SqlStore

EMBEDDED_AGENT = "embedded-agent"


@dataclass
class Embedded:
    ctx: Context
    url: str
    token: str
    agents: list[Agent]


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _admin(ctx: Context) -> Principal:
    """The platform's first city admin: created on the first start (token saved for the operator)."""
    with ctx.store.uow() as uow:
        empty = uow.users.count() == 0
    if empty:
        secret = bootstrap(ctx)
        path = ctx.settings.home / "admin-token"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secret.secret + "\n")
    with ctx.store.uow() as uow:
        admin = next(u for u in uow.users.list() if u.role is Role.CITY_ADMIN)
    return Principal("embedded", admin.id, admin.tenant_id, Role.CITY_ADMIN, name=admin.name)


def _tenant_token(ctx: Context, url: str) -> str:
    """The demo user's token from the CLI credentials if still valid here, else a fresh one (saved)."""
    creds = load_credentials()
    if creds.token and creds.server == url:
        try:
            principal = authenticate(ctx, creds.token)
            if principal.name == DEMO_USER:
                return creds.token
        except Unauthenticated:
            pass
    token = demo_user_token(ctx).secret
    save_credentials(Credentials(url, token), ctx.settings.home)
    return token


def _agents(ctx: Context, url: str) -> list[Agent]:
    """An in-process agent with a fresh token and a local engine for every local centre."""
    out = []
    now = ctx.clock.now()
    with ctx.store.uow() as uow:
        centres = [c for c in uow.centres.list() if c.engine is EngineKind.LOCAL and c.enabled]
        secrets = {}
        for centre in centres:
            for old in uow.tokens.list(centre_id=centre.id):
                if old.name == EMBEDDED_AGENT:
                    uow.tokens.revoke(old.id, now)
            secrets[centre.id] = mint_agent_token(uow, centre.id, EMBEDDED_AGENT, now).secret
    for centre in centres:
        principal = authenticate(ctx, secrets[centre.id])
        _, pools = agent_service.my_centre(ctx, principal)
        backend = LocalBackend(
            ctx.settings.data_dir / "centres" / centre.name,
            [LocalPool(p.name, p.nodes, p.accelerators_per_node, p.stack) for p in pools],
        )
        client = AgentClient(url, secrets[centre.id])
        out.append(
            Agent(
                client,
                backend,
                name=centre.name,
                lease_batch=ctx.settings.agent.lease_batch,
                poll_interval=ctx.settings.agent.poll_interval_s,
                max_backoff=ctx.settings.agent.max_backoff_s,
            )
        )
    return out


def prepare(settings: Settings) -> Embedded:
    """Open (or create) the embedded database, seed the demo city, and build its agents."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = SqlStore(settings.resolved_database_url())
    ctx = Context(store, settings)
    url = settings.server.url()
    seed_demo_city(ctx, _admin(ctx))
    return Embedded(ctx, url, _tenant_token(ctx, url), _agents(ctx, url))


def run(settings: Settings, console: Console) -> None:
    """Serve until interrupted (Ctrl-C). Running jobs keep running and are picked up on the next `up`."""
    host, port = settings.server.host, settings.server.port
    if not port_free(host, port):
        raise SystemExit(f"port {port} on {host} is in use: is suanli already running? (try --port)")
    embedded = prepare(settings)
    app = create_app(embedded.ctx)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False))
    threads = [
        threading.Thread(target=_run_when_serving, args=(server, a), name=f"agent-{a.name}", daemon=True)
        for a in embedded.agents
    ]
    for thread in threads:
        thread.start()
    _banner(console, embedded, settings.home)
    try:
        server.run()
    finally:
        for agent in embedded.agents:
            agent.stop()
        for thread in threads:
            thread.join(timeout=5)
        embedded.ctx.store.close()  # type: ignore[attr-defined]


def _run_when_serving(server: uvicorn.Server, agent: Agent) -> None:
    """Agents connect over HTTP like any remote agent, so they wait until the server listens."""
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    agent.run()


def _banner(console: Console, e: Embedded, home: Path) -> None:
    console.print(f"[bold green]suanli is up[/] at {e.url}   (API docs: {e.url}/docs)")
    console.print(f"  data:     {home / 'data'}")
    console.print(f"  centres:  {', '.join(a.name for a in e.agents)} (local engine, in-process agents)")
    console.print(f"  tenant:   demo-lab, user {DEMO_USER}; token saved to {home / 'credentials.toml'}")
    console.print(f"  token:    {e.token}")
    console.print("  try:      suanli centres ; suanli submit examples/train.yaml --wait ; suanli jobs")
    console.print("  stop:     Ctrl-C (running jobs keep running and are picked up on the next `suanli up`)")
