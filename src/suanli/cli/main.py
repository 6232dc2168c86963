"""`suanli`: the command line. Tenant commands talk to the REST API; `up`, `server`, `init` and `agent`
start the pieces of the platform."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
import uvicorn
from rich.console import Console
from rich.live import Live

from suanli import __version__
from suanli.agent.client import AgentClient, ProtocolError, Unreachable
from suanli.agent.loop import Agent
from suanli.api.app import create_app
from suanli.backends import create_backend
from suanli.backends import federation as _federation  # noqa: F401 - registers the "federation" engine
from suanli.backends import local as _local  # noqa: F401 - registers the "local" engine
from suanli.backends import ray as _ray  # noqa: F401 - registers the "ray" engine (Ray itself is imported on use)
from suanli.backends import slurm as _slurm  # noqa: F401 - registers the "slurm" engine
from suanli.backends.engine_config import load_engine_config, merge_pools, register_optional
from suanli.cli import documents as documents_command
from suanli.cli import embedded, render
from suanli.cli import ledger as ledger_command
from suanli.cli import sim as sim_command
from suanli.cli import vouchers as vouchers_command
from suanli.cli.credentials import Credentials, load_credentials, save_credentials
from suanli.cli.follow import follow, read_spec_file
from suanli.client import ApiError, SuanliClient
from suanli.config import load_settings
from suanli.domain.errors import SuanliError
from suanli.service.context import Context
from suanli.service.tenants import bootstrap
from suanli.store.uow import SqlStore

app = typer.Typer(
    help="suanli (算力): the city compute-power platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
_WIDE = 200  # when piped, print whole lines rather than folding at 80 columns
out = Console(width=None if sys.stdout.isatty() else _WIDE)
err = Console(stderr=True, width=None if sys.stderr.isatty() else _WIDE)

Server = Annotated[str | None, typer.Option("--server", help="API URL (default: from `suanli login`)")]
Token = Annotated[str | None, typer.Option("--token", help="API token (default: from `suanli login`)")]


def _fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[red]error:[/] {message}")
    raise typer.Exit(code)


def _client(server: str | None, token: str | None) -> SuanliClient:
    creds = load_credentials(server, token)
    if not creds.token:
        _fail("no token: run `suanli up` (embedded default) or `suanli login --server URL --token TOKEN`")
    return SuanliClient(creds.server, creds.token)


def _explain(exc: ApiError | SuanliError) -> NoReturn:
    if isinstance(exc, ApiError):
        lines = [exc.detail or exc.title]
        lines += [f"  {e['field'] or '(spec)'}: {e['message']}" for e in exc.errors[1:]]
        _fail("\n".join(lines))
    _fail(exc.detail)


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback(invoke_without_command=True)
def _root(version: Annotated[bool, typer.Option("--version", help="print the version")] = False) -> None:
    if version:
        out.print(f"suanli {__version__}")
        raise typer.Exit()


# ------------------------------------------------------------------------------------------ platform


@app.command()
def up(
    port: Annotated[int | None, typer.Option(help="API port")] = None,
    host: Annotated[str | None, typer.Option(help="API address")] = None,
    home: Annotated[Path | None, typer.Option(help="data and credentials (default $SUANLI_HOME or ~/.suanli)")] = None,
) -> None:
    """Start the embedded default: SQLite, the API with its scheduler, and three demo centres on this machine."""
    overrides: dict[str, Any] = {}
    if home is not None:
        overrides["home"] = home
    settings = load_settings(**overrides)
    if port is not None or host is not None:
        settings.server = settings.server.model_copy(update={k: v for k, v in (("port", port), ("host", host)) if v})
    _logging()
    embedded.run(settings, out)


@app.command()
def server(
    port: Annotated[int | None, typer.Option(help="API port")] = None,
    host: Annotated[str | None, typer.Option(help="API address")] = None,
    no_scheduler: Annotated[bool, typer.Option("--no-scheduler", help="serve the API only")] = False,
) -> None:
    """Run the API server (and the scheduler loop) against $SUANLI_DATABASE_URL (default: SQLite)."""

    settings = load_settings()
    _logging()
    store = SqlStore(settings.resolved_database_url())
    ctx = Context(store, settings)
    app_ = create_app(ctx, run_scheduler=False if no_scheduler else None)
    uvicorn.run(app_, host=host or settings.server.host, port=port or settings.server.port, log_level="info")


@app.command()
def init(admin: Annotated[str, typer.Option(help="name of the first city admin")] = "admin") -> None:
    """Create the first city admin of an empty platform database and print its token (once)."""

    settings = load_settings()
    store = SqlStore(settings.resolved_database_url())
    try:
        secret = bootstrap(Context(store, settings), admin_name=admin)
    except SuanliError as exc:
        _explain(exc)
    out.print(f"city admin [bold]{admin}[/] created; token (shown once):")
    out.print(secret.secret)


@app.command()
def agent(
    server: Annotated[str, typer.Option(help="the suanli server URL", envvar="SUANLI_SERVER")],
    token: Annotated[str, typer.Option(help="the centre's agent token", envvar="SUANLI_AGENT_TOKEN")],
    engine: Annotated[str, typer.Option(help="the centre's engine")] = "local",
    work_dir: Annotated[Path, typer.Option(help="the engine's state directory")] = Path("suanli-agent"),
    engine_config: Annotated[
        Path | None, typer.Option(help="YAML: engine options and per-pool settings (docs/operators/)")
    ] = None,
) -> None:
    """Run a centre's agent: it connects out to the server, leases placed jobs and runs them on its engine."""
    settings = load_settings()
    _logging()
    client = AgentClient(server, token)
    delay = 0.5
    while True:
        try:
            centre = client.centre()
            break
        except Unreachable as exc:
            err.print(f"[yellow]server not reachable yet[/] ({exc}); retrying in {delay:.0f}s")
            time.sleep(delay)
            delay = min(delay * 2, settings.agent.max_backoff_s)
        except ProtocolError as exc:
            _fail(f"the server refused this agent's token: {exc}")
    pools = [
        {
            "name": p["name"],
            "model": p["model"],
            "nodes": p["nodes"],
            "accelerators_per_node": p["accelerators_per_node"],
            "stack": p["stack"],
        }
        for p in centre["pools"]
    ]
    try:
        options = load_engine_config(engine_config)
        pools = merge_pools(pools, options)
        options = {k: v for k, v in options.items() if k != "pools"}
        register_optional()
        backend = create_backend(engine, root=work_dir, pools=pools, **options)
    except SuanliError as exc:
        _explain(exc)
    out.print(
        f"agent for centre [bold]{centre['name']}[/] on the {engine} engine; pools: "
        f"{', '.join(p['name'] for p in pools) or 'none'}"
    )
    Agent(
        client,
        backend,
        name=centre["name"],
        lease_batch=settings.agent.lease_batch,
        poll_interval=settings.agent.poll_interval_s,
        max_backoff=settings.agent.max_backoff_s,
    ).run()


# ------------------------------------------------------------------------------------------ tenants


@app.command()
def login(
    server: Annotated[str, typer.Option(help="the suanli server URL")],
    token: Annotated[str, typer.Option(help="your API token", prompt=True, hide_input=True)],
) -> None:
    """Check a token against a server and remember both for later commands."""
    try:
        me = SuanliClient(server, token).me()
    except ApiError as exc:
        _explain(exc)
    path = save_credentials(Credentials(server, token))
    who = me["user"]["name"] if me.get("user") else f"agent of {me.get('centre_id')}"
    tenant = me["tenant"]["name"] if me.get("tenant") else "-"
    out.print(f"logged in to {server} as [bold]{who}[/] (tenant {tenant}); saved to {path}")


@app.command()
def submit(
    spec: Annotated[Path, typer.Argument(help="job spec (YAML or JSON)", exists=True, dir_okay=False)],
    wait: Annotated[bool, typer.Option("--wait", "-w", help="stream logs until the job ends")] = False,
    name: Annotated[str | None, typer.Option(help="override the job name")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="resubmitting with the same key is a no-op")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Submit a job. With --wait, follow it and exit 0 only if it succeeds."""
    try:
        data = read_spec_file(spec)
        if name:
            data["name"] = name
        client = _client(server, token)
        job = client.submit(data, idempotency_key)
    except (ApiError, SuanliError) as exc:
        _explain(exc)
    out.print(f"submitted [bold]{job['id']}[/] ({job['name']}): {job['state']}")
    if wait:
        _wait(client, job["id"])


def _wait(client: SuanliClient, job_id: str) -> NoReturn:
    def on_state(job: dict[str, Any]) -> None:
        err.print(
            f"[dim]{time.strftime('%H:%M:%S')}[/] {job['id']} ",
            render.state(job["state"]),
            f"[dim]{job['state_reason']}[/]",
        )

    try:
        job = follow(client, job_id, lambda s: (sys.stdout.write(s), sys.stdout.flush()), on_state)
    except ApiError as exc:
        _explain(exc)
    except KeyboardInterrupt:
        err.print(
            f"\nstopped following; the job goes on. `suanli logs -f {job_id}` resumes, "
            f"`suanli cancel {job_id}` stops it"
        )
        raise typer.Exit(130) from None
    raise typer.Exit(0 if job["state"] == "succeeded" else 1)


@app.command()
def jobs(
    state: Annotated[str | None, typer.Option(help="comma-separated states, e.g. running,queued")] = None,
    limit: Annotated[int, typer.Option(help="how many")] = 30,
    watch: Annotated[bool, typer.Option("--watch", help="refresh every 2 seconds")] = False,
    server: Server = None,
    token: Token = None,
) -> None:
    """List your tenant's jobs, newest first."""
    client = _client(server, token)
    try:
        if not watch:
            out.print(render.jobs_table(client.jobs(state=state, limit=limit)["items"]))
            return
        with Live(render.jobs_table(client.jobs(state=state, limit=limit)["items"]), console=out) as live:
            while True:
                time.sleep(2)
                live.update(render.jobs_table(client.jobs(state=state, limit=limit)["items"]))
    except ApiError as exc:
        _explain(exc)
    except KeyboardInterrupt:
        pass


@app.command()
def job(job_id: str, server: Server = None, token: Token = None) -> None:
    """Show one job: its state, attempts and history."""
    client = _client(server, token)
    try:
        j = client.job(job_id)
        events = client.events(job_id)
    except ApiError as exc:
        _explain(exc)
    out.print(f"[bold]{j['id']}[/] {j['name']} ({j['kind']}) ", render.state(j["state"]))
    out.print(f"  {j['state_reason']}")
    for a in j["attempt_history"] or []:
        out.print(
            f"  attempt {a['number']}: {a['state']} on {a['where']} ({_shape(a)}) at CNY "
            f"{render.price(a['price'])}/h: {a['reason'] or a['state']}"
        )
        if u := a.get("usage"):
            measured = (
                f"{u['quantity']} {u['unit'].replace('_', '-')}s" if u["quantity"] else "running, charged by period"
            )
            pflops = f", {u['pflops_hours_fp16']} PFLOPS-h FP16" if u["pflops_hours_fp16"] else ""
            out.print(f"    usage: {measured}{pflops}; charged CNY {u['charged']}")
    for e in events:
        out.print(f"  [dim]{e['at'][:19]}[/] {e['from_state'] or '-':>10} -> {e['to_state']:<10} {e['reason']}")


@app.command()
def logs(
    job_id: str,
    follow_: Annotated[bool, typer.Option("--follow", "-f", help="keep streaming")] = False,
    attempt: Annotated[int | None, typer.Option(help="attempt number (default: latest)")] = None,
    server: Server = None,
    token: Token = None,
) -> None:
    """Print a job's output."""
    client = _client(server, token)
    try:
        if follow_:
            follow(client, job_id, lambda s: (sys.stdout.write(s), sys.stdout.flush()), lambda _: None)
            return
        offset = 0
        while True:
            piece = client.logs(job_id, offset=offset, attempt=attempt)
            sys.stdout.write(piece["data"])
            if piece["next_offset"] == offset:
                break
            offset = piece["next_offset"]
        if piece.get("truncated"):
            err.print("[yellow](log truncated: the centre sent more than the per-attempt limit)[/]")
    except ApiError as exc:
        _explain(exc)
    except KeyboardInterrupt:
        pass


@app.command()
def cancel(job_id: str, server: Server = None, token: Token = None) -> None:
    """Cancel a job (running jobs are killed by their centre's agent)."""
    try:
        j = _client(server, token).cancel(job_id)
    except ApiError as exc:
        _explain(exc)
    out.print(f"{j['id']}: ", render.state(j["state"]), f" {j['state_reason']}")


@app.command()
def why(job_id: str, server: Server = None, token: Token = None) -> None:
    """Explain why a job waits (a reason per pool), or where and why it was placed."""
    try:
        answer = _client(server, token).why(job_id)
    except ApiError as exc:
        _explain(exc)
    out.print(f"{answer['job_id']}: ", render.state(answer["state"]))
    out.print(f"  {answer['summary']}")
    for r in answer["reasons"]:
        out.print(f"  - {r['centre']}/{r['pool']}: {r['message']} [dim]({r['code']})[/]")
    if answer["placement"]:
        p = answer["placement"]
        out.print(f"  placed on {p['where']}: {_shape(p)} at CNY {render.price(p['price'])}/h; {p['explanation']}")


def _shape(attempt: dict[str, Any]) -> str:
    nodes = len(attempt["nodes"])
    if attempt["per_node"] == 0:
        return f"{attempt['cpus_per_node']:g} CPUs x {nodes} node(s)"
    return f"{attempt['per_node']} x {attempt['model']} x {nodes} node(s)"


@app.command()
def centres(server: Server = None, token: Token = None) -> None:
    """The city's centres, their pools, prices, use and capacity."""
    client = _client(server, token)
    try:
        data = client.centres()
        cap = client.capacity()
    except ApiError as exc:
        _explain(exc)
    out.print(render.centres_table(data))
    out.print(
        f"city: {cap['centres_online']}/{cap['centres']} centres online, {cap['pflops_fp16']} PFLOPS FP16 "
        f"({cap['pflops_fp16_online']} online), {cap['accelerators_in_use']}/{cap['accelerators_total']} "
        "accelerators in use"
    )


sim_command.register(app, out)
ledger_command.register(app, out, _client, _explain)
documents_command.register(app, out, _client, _explain)
vouchers_command.register(app, out, _client, _explain)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
