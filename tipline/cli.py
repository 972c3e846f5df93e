"""The `tipline` command. Every subcommand reads the same settings as the server."""

from __future__ import annotations

import json
import secrets
import sys

import click

from .settings import Settings, SettingsError
from .statuses import OUTBOX_STATUSES


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _tipline(settings: Settings):
    from .engine import FlowError
    from .service import TipLine

    try:
        return TipLine(settings)
    except FlowError as exc:
        raise click.ClickException(f"flows/ is broken: {exc} (run `tipline flows check`)") from None


@click.group()
def main() -> None:
    """tipline: SMS and WhatsApp tip line against child trafficking."""


# ---- database -------------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    from . import storage

    settings = _settings()
    storage.upgrade(settings.database_url)
    click.echo("database is up to date")


# ---- serving --------------------------------------------------------------------------------------

@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--no-worker", is_flag=True, help="do not start the outbox worker in the background")
def serve(host: str, port: int, workers: int, no_worker: bool) -> None:
    """Production server (gunicorn) for the webhook; migrates the database first."""
    from gunicorn.app.base import BaseApplication

    from . import is_loopback, storage

    settings = _settings()
    if settings.trusted_proxies and not is_loopback(host) and not settings.allow_remote_proxy:
        raise click.ClickException(
            f"TIPLINE_TRUSTED_PROXIES={settings.trusted_proxies} trusts the X-Forwarded-For header, and "
            f"--host {host} lets anyone who can reach port {port} send it directly: they could forge "
            f"their address, evade the login limits and write any address into the audit trail. Run "
            f"behind the proxy on this machine with --host 127.0.0.1; or, if a firewall lets only your "
            f"proxy (on another machine) reach this port, set TIPLINE_ALLOW_REMOTE_PROXY=1."
        )
    _tipline(settings)  # refuse to start on broken flows, before forking workers
    storage.upgrade(settings.database_url)

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)  # URLs hold nothing personal, but keep the log quiet
            self.cfg.set("timeout", 30)
            self.cfg.set("graceful_timeout", 10)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 27+: one socket per user clashes
                self.cfg.set("control_socket_disable", True)

        def load(self):
            from . import create_app

            return create_app(settings)


    base = f"http://{host}:{port}"
    click.echo(f"tipline serving on {base}")
    click.echo(f"  Twilio webhook (SMS and WhatsApp, HTTP POST): {base}/twilio/messages")
    click.echo(f"  health check:                                 {base}/healthz")
    click.echo(f"  dashboard (operators and partners):           {base}/dashboard/")
    click.echo("  create a login: `tipline users add EMAIL --role admin` (in .venv/bin); it asks for a password.")
    if not settings.twilio_auth_token:
        click.echo("  TWILIO_AUTH_TOKEN is not set: the webhook refuses every request until it is.")
        click.echo("  Talk to the bot without Twilio: `tipline chat` (in .venv/bin).")
    background = None if no_worker else _start_background_worker()
    try:
        _Server().run()
    finally:
        if background is not None:
            background.terminate()
            background.wait(timeout=10)


@main.command()
@click.option("--channel", type=click.Choice(["sms", "whatsapp"]), default="sms", show_default=True)
@click.option("--lang", "language", default=None, help="start in this language (en, id, ...)")
def chat(channel: str, language: str | None) -> None:
    """Talk to the bot in the terminal, through the same engine and storage."""
    from . import storage
    from .service import InboundMessage

    settings = _settings()
    tipline = _tipline(settings)
    if language and language not in tipline.flow.languages:
        raise click.BadParameter(f"unknown language {language!r}; flows/ has {', '.join(tipline.flow.languages)}")
    storage.upgrade(settings.database_url)
    # A fresh address each session: a terminal conversation never continues someone else's.
    sender = ("whatsapp:" if channel == "whatsapp" else "") + f"chat:{secrets.token_hex(8)}"
    interactive = sys.stdin.isatty()
    if interactive:
        click.echo("Type a message and press Enter. Ctrl-D ends. (Try: hello, then 1.)")
    for line in sys.stdin:
        text = line.rstrip("\n")
        reply = tipline.receive(
            InboundMessage(message_sid=f"CLI{secrets.token_hex(16)}", sender=sender, channel=channel, text=text),
            language=language,
        )
        if not reply.messages:
            click.echo("(no reply)")
        for message in reply.messages:
            click.echo(message)
            click.echo("")


# ---- tips -----------------------------------------------------------------------------------------

@main.group()
def tips() -> None:
    """Tips."""


from .export import EXPORT_COLUMNS  # noqa: E402,F401  (the CSV columns, also named here for scripts)


@tips.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def tips_export(fmt: str) -> None:
    """Write all tips to stdout (JSON: an array of objects)."""
    from . import storage
    from .engine import FlowError, load_flow
    from .export import csv_chunks, json_chunks

    settings = _settings()
    try:
        shown = load_flow(settings.flows_path).shown_fields  # the report's fields, as the flow declares them
    except FlowError as exc:
        raise click.ClickException(f"flows/ is broken: {exc} (run `tipline flows check`)") from None
    storage.upgrade(settings.database_url)
    engine = storage.make_engine(settings.database_url, **settings.database_timeouts)
    out = sys.stdout
    with storage.reading(engine) as session:
        rows = storage.export_tips(session, shown=shown)
        for chunk in json_chunks(rows) if fmt == "json" else csv_chunks(rows, shown):
            out.write(chunk)
    engine.dispose()


@tips.command("status")
@click.argument("reference")
@click.argument("status", type=click.Choice(["new", "triaged", "closed", "spam"]))
@click.option("--reason", default=None, help="why: needed to go back a step (kept in the audit trail)")
def tips_status(reference: str, status: str, reason: str | None) -> None:
    """Move a tip as an operator may (the dashboard's rules); the change goes to the audit trail."""
    from . import storage
    from .actions import COMMAND_LINE
    from .actions import tips as tip_actions
    from .engine import parse_reference
    from .models import utcnow

    found = parse_reference("".join(reference.split()))
    if found is None:
        raise click.BadParameter("a reference looks like 7KQ2-9PXM", param_hint="REFERENCE")
    settings = _settings()
    storage.upgrade(settings.database_url)
    engine = storage.make_engine(settings.database_url, **settings.database_timeouts)
    try:
        with storage.writing(engine) as session:
            tip = storage.tip_by_reference(session, reference=found)
            if tip is None:
                raise click.ClickException(f"no tip {found}")
            tip = storage.lock_tip(session, tip_id=tip.id)
            before = tip.status
            changed = tip_actions.change_status(session, tip, actor=COMMAND_LINE, to=status, reason=reason,
                                                now=utcnow())
    except tip_actions.CaseworkRefused as refusal:
        if refusal.code == "reason_required":
            raise click.ClickException(f"going back from {before} to {status} needs --reason") from None
        raise click.ClickException(f"a tip cannot go from {before} to {status}") from None
    finally:
        engine.dispose()
    click.echo(f"tip {found}: {before} -> {status}" if changed else f"tip {found} is {status} already")


# ---- flows ----------------------------------------------------------------------------------------

@main.group()
def flows() -> None:
    """Conversation flows in flows/."""


@flows.command("check")
def flows_check() -> None:
    """Validate flows/ (structure, every language complete, message length rules)."""
    from .engine import FlowError, load_flow
    from .engine.check import check_flow
    from .report_fields import column_faults

    settings = _settings()
    faults = check_flow(settings.flows_path, service_name=settings.service_name)
    try:
        faults += column_faults(load_flow(settings.flows_path).fields)
    except FlowError:
        pass  # check_flow has said why the flow does not load
    for fault in faults:
        click.echo(f"FAULT {fault}", err=True)
    if faults:
        raise SystemExit(1)
    click.echo(f"{settings.flows_path}: ok")


# ---- dashboard accounts -----------------------------------------------------------------------------

@main.group()
def users() -> None:
    """Dashboard accounts."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["admin", "operator", "partner"]), required=True)
@click.option("--partner", "partner", default=None, help="the partner organisation (partner accounts only)")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
def users_add(email: str, role: str, partner: str | None, password_stdin: bool) -> None:
    """Create a dashboard account (asks for the password twice unless --password-stdin)."""
    from sqlalchemy.exc import IntegrityError

    from . import models, storage
    from .dashboard.security import PasswordError, check_new_password, hash_password, new_session_token

    email = email.strip().lower()
    if "@" not in email or len(email) > 254 or any(c.isspace() for c in email):
        raise click.BadParameter("give an email address", param_hint="EMAIL")
    if role == "partner" and not (partner and partner.strip()):
        raise click.UsageError("a partner account needs --partner NAME (the partner organisation)")
    if role != "partner" and partner:
        raise click.UsageError("--partner is only for --role partner")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_new_password(password)
    except PasswordError as exc:
        raise click.ClickException(str(exc)) from None
    settings = _settings()
    storage.upgrade(settings.database_url)
    engine = storage.make_engine(settings.database_url, **settings.database_timeouts)
    try:
        with storage.writing(engine) as session:
            partner_model = getattr(models, "Partner", None)
            if partner and partner_model is not None and hasattr(partner_model, "name"):
                from sqlmodel import select

                if session.exec(select(partner_model).where(partner_model.name == partner.strip())).first() is None:
                    raise click.ClickException(
                        f"no partner named {partner.strip()!r}: add it first with `tipline partners add`"
                    )
            now = models.utcnow()
            storage.create_user(
                session, email=email, role=role, partner=partner.strip() if partner else None,
                password_hash=hash_password(password), session_token=new_session_token(), now=now,
            )
            storage.record_audit(session, actor="cli", action="user_created", at=now, target=email,
                                 detail={"role": role, "partner": partner})
    except IntegrityError:
        raise click.ClickException(f"an account for {email} already exists") from None
    finally:
        engine.dispose()
    click.echo(f"account {email} ({role}) created; log in at /dashboard/")


@users.command("passwd")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="read the password from the first line of stdin")
@click.option("--temporary", is_flag=True, help="the account must choose a new password at its next login")
def users_passwd(email: str, password_stdin: bool, temporary: bool) -> None:
    """Set a new password for an account and end all its sessions (asks twice unless --password-stdin)."""
    from . import models, storage
    from .dashboard.security import PasswordError, check_new_password, hash_password, new_session_token

    email = email.strip().lower()
    settings = _settings()
    storage.upgrade(settings.database_url)
    engine = storage.make_engine(settings.database_url, **settings.database_timeouts)
    try:
        with storage.reading(engine) as session:
            if storage.user_by_email(session, email=email) is None:
                raise click.ClickException(f"no account {email}: create it with `tipline users add`")
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        try:
            check_new_password(password)
        except PasswordError as exc:
            raise click.ClickException(str(exc)) from None
        with storage.writing(engine) as session:
            user = storage.user_by_email(session, email=email)
            storage.update_user(session, user_id=user.id, password_hash=hash_password(password),
                                password_change_required=temporary, session_token=new_session_token())
            ended = storage.end_dashboard_sessions(session, user_id=user.id)
            storage.record_audit(session, actor="cli", action="password_reset", at=models.utcnow(), target=email,
                                 detail={"must_change": temporary})
            active = user.active
    finally:
        engine.dispose()
    click.echo(f"password of {email} changed; {ended} session{'s' if ended != 1 else ''} ended"
               + ("; a new one must be chosen at the next login" if temporary else ""))
    if not active:
        click.echo(f"note: {email} is disabled; an admin can enable it on the dashboard's Accounts page")


# ---- outbox, partners, retention (issue 4) --------------------------------------------------------

def _start_background_worker():
    """`tipline worker` as a child process: gunicorn forks, and a thread in the master would not survive."""
    import os
    import subprocess

    click.echo("  outbox worker: running in the background (--no-worker to turn off)")
    return subprocess.Popen([sys.executable, "-m", "tipline.cli", "worker", "--exit-with-parent", str(os.getpid())])


@main.command()
@click.option("--once", is_flag=True, help="send what is due now, run the timers once, and exit")
@click.option("--exit-with-parent", "parent_pid", type=int, default=None, hidden=True)
def worker(once: bool, parent_pid: int | None) -> None:
    """Send what is queued in the outbox, retry, run the timers (escalation timeouts, retention)."""
    import os
    import signal
    import threading

    from . import configure_logging, storage
    from .worker import Worker

    settings = _settings()
    configure_logging(settings.log_level)
    storage.upgrade(settings.database_url)
    try:
        runner = Worker(_tipline(settings))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if once:
        click.echo(f"{runner.run_once()} messages handled")
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def parent_alive() -> bool:
        return parent_pid is None or os.getppid() == parent_pid

    runner.run(stop, parent_alive=parent_alive)


@main.group()
def outbox() -> None:
    """Messages the tip line sends on its own initiative."""


@outbox.command("list")
@click.option("--json", "as_json", is_flag=True, help="one JSON array of objects")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice([*OUTBOX_STATUSES, "unrouted"]),
              help="only these (unrouted: urgent tips nobody received, listed first)")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000))
def outbox_list(as_json: bool, statuses: tuple[str, ...], limit: int) -> None:
    """Show queued, sent and failed outbound messages (failed and dead are the dead letters).

    Urgent tips that reached nobody come first: no partner and no on-call number ("unrouted"), or
    escalation failed. not_sent: no TWILIO_ACCOUNT_SID, the message went nowhere.
    """
    from . import storage

    settings = _settings()
    storage.upgrade(settings.database_url)
    engine = storage.make_engine(settings.database_url, **settings.database_timeouts)
    messages = tuple(s for s in statuses if s != "unrouted")
    with storage.reading(engine) as session:
        nobody = storage.tips_received_by_nobody(session) if not statuses or "unrouted" in statuses else []
        rows = storage.list_outbox(session, statuses=messages, limit=limit) if messages or not statuses else []
        references = storage.tip_references(session, tip_ids=sorted({r.tip_id for r in rows if r.tip_id}))
    engine.dispose()
    unrouted = [
        {"id": None, "created_at": _iso(t.created_at), "kind": "escalation", "channel": None, "to": None,
         "tip": t.reference, "status": "unrouted" if t.routing == "unrouted" else "escalation_failed",
         "delivery_status": None, "attempts": 0, "error_code": None, "error": UNROUTED_WORDS[t.routing],
         "twilio_sid": None, "next_attempt_at": None}
        for t in nobody
    ]
    items = [
        {
            "id": r.id, "created_at": _iso(r.created_at), "kind": r.kind,
            "channel": r.channel, "to": "reporter" if r.reporter else f"***{r.to_hint}",
            "tip": references.get(r.tip_id), "status": r.status, "delivery_status": r.delivery_status,
            "attempts": r.attempts, "error_code": r.error_code, "error": r.error, "twilio_sid": r.twilio_sid,
            "provider": r.provider,
            "next_attempt_at": _iso(r.next_attempt_at) if r.status == "pending" else None,
        }
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps(unrouted + items, indent=1))
        return
    if unrouted:
        click.echo(f"WARNING: {len(unrouted)} urgent tip(s) reached nobody; act on them now:")
        for item in unrouted:
            click.echo(f"  tip {item['tip']}  {item['created_at']}  {item['status']}: {item['error']}")
        click.echo("")
    if not items:
        click.echo("the outbox is empty" if not statuses else "no message matches")
    for item in items:
        extra = f" code {item['error_code']}" if item["error_code"] else ""
        status = "not sent (no account)" if item["status"] == "not_sent" else item["status"]
        click.echo(
            f"{item['id']:>6}  {item['created_at']}  {status:<9} {item['kind']:<10} {item['channel']:<8} "
            f"{item['to']:<9} tip {item['tip'] or '-':<9} tries {item['attempts']}"
            f"{' ' + item['delivery_status'] if item['delivery_status'] else ''}{extra}"
        )


UNROUTED_WORDS = {
    "unrouted": "no partner matches and no on-call number is set (TIPLINE_ONCALL_NUMBER)",
    "failed": "escalation failed: building or sending it broke, or every message failed",
}


def _iso(when) -> str:
    return when.isoformat().replace("+00:00", "Z")


@main.group()
def partners() -> None:
    """Partners that receive escalations."""


@partners.command("add")
@click.argument("name")
@click.option("--phone", required=True, help="E.164, e.g. +15550100050")
@click.option("--channel", type=click.Choice(["sms", "whatsapp"]), default="sms", show_default=True)
@click.option("--region", "regions", multiple=True,
              help="a place they cover: a code from flows/places.yaml (32 takes 32.xx too), a word matched in a "
                   "tip's location, or 'everywhere'")
@click.option("--place", "places", multiple=True,
              help="a place they cover, by its name in flows/places.yaml (Jawa Barat, Kota Semarang): kept as its code")
@click.option("--category", "categories", multiple=True,
              type=click.Choice(["forced_labour", "sexual_exploitation", "recruitment", "online", "child_marriage",
                                 "begging", "other"]), help="a kind of tip they take (default: every kind)")
@click.option("--urgent-only", is_flag=True, help="only immediate-danger tips")
@click.option("--preference", default=100, show_default=True, type=int, help="lower goes first when a tip moves on")
@click.option("--lang", "language", default="en", show_default=True, help="language of their messages")
def partners_add(name, phone, channel, regions, places, categories, urgent_only, preference, language) -> None:
    """Register a partner that receives escalations (checked and audited as on the dashboard)."""
    import sqlalchemy as sa

    from . import storage
    from .actions import COMMAND_LINE
    from .actions.partners import PartnerInvalid, add_partner, check_partner
    from .engine import FlowError, load_flow
    from .models import utcnow

    settings = _settings()
    try:
        flow = load_flow(settings.flows_path)
    except FlowError as exc:
        raise click.ClickException(f"flows/ is broken: {exc} (run `tipline flows check`)") from None
    try:
        values = check_partner(flow, name=name, phone=phone, channel=channel, language=language,
                               regions=[*regions, *(_place_code(flow, place) for place in places)],
                               categories=list(categories), urgent_only=urgent_only, preference=preference)
        storage.upgrade(settings.database_url)
        engine = storage.make_engine(settings.database_url, **settings.database_timeouts)
        try:
            with storage.writing(engine) as session:
                add_partner(session, COMMAND_LINE, values, now=utcnow())
        except sa.exc.IntegrityError:  # added by someone else between the check and the insert
            raise click.ClickException("another partner has this name or phone number") from None
        finally:
            engine.dispose()
    except PartnerInvalid as invalid:
        raise _partner_problem(invalid.problems[0], name=" ".join(name.split())) from None
    where = ", ".join(f"{r} ({flow.place(r).name})" if flow.place(r) else r for r in values.regions)
    click.echo(f"partner {values.name} added: {channel} ***{values.phone[-2:]}, covers {where}"
               f"{', urgent only' if urgent_only else ''}")


def _place_code(flow, name: str) -> str:
    """The code of the one place `name` names (as a reporter's typed place is matched); refused when it names
    none, or several (then each with its code, to give with --region)."""
    found = flow.match_place(name)
    if found.kind == "confident":
        return found.place.code
    if found.kind == "ambiguous":
        options = ", ".join(f"{place.name} ({place.code})" for place in found.candidates)
        raise click.BadParameter(f"{name!r} may be {options}: give the code with --region", param_hint="--place")
    raise click.BadParameter(f"no place called {name!r} in flows/places.yaml", param_hint="--place")


def _partner_problem(problem, *, name: str) -> click.ClickException:
    """A partner's input problem in the command line's words: a bad option (exit 2) or a conflict (exit 1)."""
    facts = dict(problem.facts)
    if problem.code == "taken":
        return click.ClickException(f"a partner named {name!r} exists already" if problem.field == "name"
                                    else "another partner has this phone number")
    words = {
        "name": ("NAME", "give a name of 1 to 128 characters"),
        "phone": ("--phone", "an E.164 number such as +15550100050"),
        "language": ("--lang", f"no language {facts.get('language')!r} in flows/"),
        "categories": ("--category", f"unknown kind {facts.get('categories')}"),
        "preference": ("--preference", f"from 0 to {facts.get('limit')}"),
        "channel": ("--channel", "sms or whatsapp"),
    }
    if problem.field == "regions" and problem.code == "unknown_place":
        hint, message = "--region", f"no place with code {facts['codes']} in flows/places.yaml"
    elif problem.field == "regions":
        hint, message = "--region", f"a place is at most {facts.get('limit')} characters"
    else:
        hint, message = words[problem.field]
    return click.BadParameter(message, param_hint=hint)


# ---- the SMS gateway channel (issue 14) -------------------------------------------------------------

GATEWAY_EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed")


@main.group()
def gateway() -> None:
    """SMS Gateway for Android: SMS through a phone with a local SIM."""


@gateway.command("check")
def gateway_check() -> None:
    """Whether the configured gateway answers, its health, and the webhooks it will call."""
    import requests
    from android_sms_gateway import errors as gateway_errors

    from .channels.smsgate import GatewaySender

    settings = _settings()
    if not settings.smsgate_url:
        raise click.ClickException("SMSGATE_URL is not set: there is no gateway to check (see the README's "
                                   "'SMS through a phone in the office')")
    sender = GatewaySender(settings)
    faults: list[str] = []
    try:
        health = sender.health()
    except (requests.RequestException, gateway_errors.APIError, ValueError, KeyError) as exc:
        raise click.ClickException(f"the gateway at {sender.where()} does not answer: {type(exc).__name__} "
                                   "(is the phone on, the app's server online, the address right?)") from None
    click.echo(f"gateway {sender.where()} answers: health {health.status.value}"
               f"{f', app version {health.version}' if health.version else ''}")
    for name, check in sorted((health.checks or {}).items()):
        value = "" if check.observed_value is None else f"{check.observed_value} {check.observed_unit or ''}".strip()
        click.echo(f"  {name:<22} {check.status.value:<5} {value:<16} {check.description or ''}".rstrip())
    if health.status.value == "fail":
        faults.append("the app reports a failing health check")
    try:
        hooks = sender.webhooks()
    except gateway_errors.APIError as exc:
        if exc.status_code in (401, 403):
            raise click.ClickException("the gateway refuses SMSGATE_USERNAME/SMSGATE_PASSWORD (see the app's "
                                       "Home tab)") from None
        raise click.ClickException(f"the gateway answered {exc.status_code} when asked for its webhooks") from None
    except (requests.RequestException, ValueError, KeyError) as exc:
        raise click.ClickException(f"the gateway stopped answering: {type(exc).__name__}") from None
    click.echo("credentials: accepted")
    expected = f"{settings.public_url.rstrip('/')}/smsgate/events" if settings.public_url else None
    for event in GATEWAY_EVENTS:
        urls = [hook.url for hook in hooks if hook.event.value == event]
        ours = [url for url in urls if url.rstrip("/").endswith("/smsgate/events")]
        if expected and expected not in urls:
            ours = []
        click.echo(f"  webhook {event:<14} {', '.join(ours) if ours else 'NOT REGISTERED'}")
        if not ours:
            faults.append(f"no {event} webhook to {expected or 'https://YOUR-HOST/smsgate/events'}")
    if not settings.smsgate_signing_key:
        faults.append("SMSGATE_SIGNING_KEY is not set: /smsgate/events refuses every delivery")
    for fault in faults:
        click.echo(f"FAULT {fault}", err=True)
    if faults:
        raise SystemExit(1)
    click.echo("gateway: ok")


@main.command()
@click.option("--dry-run", is_flag=True, help="count what would be purged, change nothing")
def purge(dry_run: bool) -> None:
    """Apply the retention rules (contacts, finished conversations, closed tips' words, old records)."""
    from . import storage
    from .models import utcnow
    from .worker import purge as apply_retention

    settings = _settings()
    storage.upgrade(settings.database_url)
    counts = apply_retention(_tipline(settings), now=utcnow(), dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    click.echo(f"{verb}: " + ", ".join(f"{name} {count}" for name, count in counts.items()))


if __name__ == "__main__":  # pragma: no cover
    main()
