"""The `tipline` command. Every subcommand reads the same settings as the server."""

from __future__ import annotations

import csv
import json
import secrets
import sys

import click

from .settings import Settings, SettingsError


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
def serve(host: str, port: int, workers: int) -> None:
    """Production server (gunicorn) for the webhook; migrates the database first."""
    from gunicorn.app.base import BaseApplication

    from . import storage

    settings = _settings()
    _tipline(settings)  # refuse to start on broken flows, before forking workers
    storage.upgrade(settings.database_url)

    class _Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("accesslog", None)  # URLs hold nothing personal, but keep the log quiet
            self.cfg.set("timeout", 30)
            if "control_socket_disable" in self.cfg.settings:  # gunicorn 27+: one socket per user clashes
                self.cfg.set("control_socket_disable", True)

        def load(self):
            from . import create_app

            return create_app(settings)

    base = f"http://{host}:{port}"
    click.echo(f"tipline serving on {base}")
    click.echo(f"  Twilio webhook (SMS and WhatsApp, HTTP POST): {base}/twilio/messages")
    click.echo(f"  health check:                                 {base}/healthz")
    if not settings.twilio_auth_token:
        click.echo("  TWILIO_AUTH_TOKEN is not set: the webhook refuses every request until it is.")
        click.echo("  Talk to the bot without Twilio: `tipline chat` (in .venv/bin).")
    _Server().run()


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


EXPORT_COLUMNS = (
    "reference", "created_at", "updated_at", "status", "urgency", "category", "description", "location",
    "when", "children", "channel", "language", "reporter", "contact_consent", "complete", "media_count",
    "additions",
)


@tips.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
def tips_export(fmt: str) -> None:
    """Write all tips to stdout (JSON: an array of objects)."""
    from . import storage

    settings = _settings()
    storage.upgrade(settings.database_url)
    engine = storage.make_engine(settings.database_url)
    out = sys.stdout
    with storage.reading(engine) as session:
        rows = storage.export_tips(session)
        if fmt == "json":
            out.write("[")
            for index, row in enumerate(rows):
                out.write(",\n" if index else "\n")
                out.write(json.dumps(row, ensure_ascii=False))
            out.write("\n]\n")
        else:
            writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                row["additions"] = "\n".join(a["text"] for a in row["additions"])
                writer.writerow(row)
    engine.dispose()


# ---- flows ----------------------------------------------------------------------------------------

@main.group()
def flows() -> None:
    """Conversation flows in flows/."""


@flows.command("check")
def flows_check() -> None:
    """Validate flows/ (structure, every language complete, message length rules)."""
    from .engine.check import check_flow

    settings = _settings()
    faults = check_flow(settings.flows_path, service_name=settings.service_name)
    for fault in faults:
        click.echo(f"FAULT {fault}", err=True)
    if faults:
        raise SystemExit(1)
    click.echo(f"{settings.flows_path}: ok")


if __name__ == "__main__":  # pragma: no cover
    main()
