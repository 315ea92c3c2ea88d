"""The `ivr` command: check flows, try a call in the terminal, run the gateway."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import ArgumentError, OperationalError

from ivr.audio.render import PromptRenderer, disclosure_seconds
from ivr.errors import ConfigError, FlowError
from ivr.flow.lint import check_file
from ivr.flow.loader import load_flow
from ivr.flow.model import Flow


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `ivr` console script."""
    import os

    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    previous = os.umask(0o077)  # the database, var/ and recordings it creates: its user's alone
    try:
        result: int = args.run(args)
    except ConfigError as exc:  # a bad IVR_* value: say which, not a traceback
        print(f"cannot run: {exc}", file=sys.stderr)
        return 1
    except (OperationalError, ArgumentError) as exc:  # the database is unreachable or misnamed
        cause = exc.orig if isinstance(exc, OperationalError) else exc
        print(f"cannot open the database {_database_named()}: {str(cause).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        os.umask(previous)
    return result


def _database_named() -> str:
    """IVR_DATABASE_URL as configured, its password hidden."""
    import os

    from sqlalchemy.engine import make_url

    raw = os.environ.get("IVR_DATABASE_URL", "")
    if not raw:
        return "(the default SQLite file var/ivr.sqlite3)"
    try:
        return f"IVR_DATABASE_URL={make_url(raw).render_as_string(hide_password=True)}"
    except ArgumentError:
        return f"IVR_DATABASE_URL={raw!r}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ivr", description="Voice IVR gateway with human fallback.")
    sub = parser.add_subparsers(title="commands")

    flows = sub.add_parser("flows", help="check flows or print their JSON Schema")
    flows_sub = flows.add_subparsers(title="flow commands")
    check = flows_sub.add_parser("check", help="load and lint flow files; exit 1 on errors")
    check.add_argument("files", nargs="*", type=Path, help="default: flows/*.yaml")
    check.set_defaults(run=_flows_check)
    schema = flows_sub.add_parser("schema", help="print the JSON Schema of flow files")
    schema.set_defaults(run=_flows_schema)

    prompts = sub.add_parser("prompts", help="what callers hear")
    prompts_sub = prompts.add_subparsers(title="prompt commands")
    render = prompts_sub.add_parser("render", help="write every prompt of a flow as WAV files to "
                                    "listen to, in the voice callers hear")
    render.add_argument("flows", nargs="*", type=Path, help="default: flows/*.yaml")
    render.add_argument("--out", type=Path, default=Path("var") / "prompts",
                        help="folder for the files (one subfolder per flow; default var/prompts)")
    render.set_defaults(run=_prompts_render)

    call = sub.add_parser("call", help="try a flow in the terminal (typed speech, #5 for keys)")
    call.add_argument("flow", type=Path)
    call.add_argument("--script", type=Path, help="replay caller lines from a file")
    call.add_argument("--at", help="the call's time, ISO 8601 (naive = the flow's timezone)")
    call.add_argument("--caller", default="+15550000000")
    call.add_argument("--twilio", action="store_true",
                      help="place the call through the real gateway via the Twilio simulator")
    call.set_defaults(run=_call)

    users = sub.add_parser("users", help="console users")
    users_sub = users.add_subparsers(title="user commands")
    add = users_sub.add_parser("add", help="add a console user (asks for the password)")
    add.add_argument("email")
    add.add_argument("--role", choices=("owner", "editor", "viewer"), required=True)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(run=_users_add)
    remove = users_sub.add_parser("remove", help="remove a console user and end their sessions")
    remove.add_argument("email")
    remove.set_defaults(run=_users_remove)
    logout = users_sub.add_parser("logout", help="end every console session of a user")
    logout.add_argument("email")
    logout.set_defaults(run=_users_logout)

    serve = sub.add_parser("serve", help="run the gateway (webhooks, media streams, console)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(run=_serve)

    cluster = sub.add_parser("cluster", help="run several instances behind HAProxy on this machine")
    cluster.add_argument("--instances", type=int, default=3)
    cluster.add_argument("--port", type=int, default=8080, help="the balancer's port; instances "
                         "take the next ones")
    cluster.set_defaults(run=_cluster)

    cleanup = sub.add_parser("cleanup", help="delete transcripts and recordings past their "
                             "keeping time now (the gateway also does it every IVR_CLEANUP_HOURS)")
    cleanup.set_defaults(run=_cleanup)

    db = sub.add_parser("db", help="the database schema (every start migrates it anyway)")
    db_sub = db.add_subparsers(title="database commands")
    db_sub.add_parser("upgrade", help="migrate IVR_DATABASE_URL to the newest schema now").set_defaults(
        run=_db_upgrade)
    revision = db_sub.add_parser("revision", help="developers: write a migration for what changed "
                                 "in ivr/store/tables.py (needs a database at the newest revision)")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(run=_db_revision)
    return parser


def _flows_check(args: argparse.Namespace) -> int:
    files: list[Path] = args.files or sorted(Path("flows").glob("*.yaml"))
    if not files:
        print("no flow files given and none in flows/", file=sys.stderr)
        return 2
    errors = warnings = 0
    timer = disclosure_seconds(PromptRenderer(Path("audio") / "cache", Path(".")))
    for path in files:
        problems = check_file(path, timer)
        for problem in problems:
            print(problem)
        errors += sum(p.severity == "error" for p in problems)
        warnings += sum(p.severity == "warning" for p in problems)
        if not problems:
            print(f"{path}: ok")
    print(f"{len(files)} file(s): {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def _prompts_render(args: argparse.Namespace) -> int:
    import re
    import time

    from ivr.audio.render import RenderError
    from ivr.audio.wav import ulaw_to_wav
    from ivr.flow.catalog import spoken_prompts

    files: list[Path] = args.flows or sorted(Path("flows").glob("*.yaml"))
    renderer = PromptRenderer(Path("audio") / "cache", Path("."))
    for path in files:
        flow = _load_or_report(path)
        if flow is None:
            return 1
        folder = args.out / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        voice = renderer.voices.choose(flow.language, flow.voice).note
        print(f"{path}: {flow.language}, spoken by {voice} -> {folder}/")
        for i, (text, audio) in enumerate(spoken_prompts(flow), 1):
            started = time.monotonic()
            try:
                ulaw = renderer.render(text, flow.language, audio, flow.voice)
            except RenderError as exc:
                print(f"  cannot render {text!r}: {exc}", file=sys.stderr)
                return 1
            slug = re.sub(r"\W+", "-", text.lower()).strip("-")[:40] or "prompt"
            out = folder / f"{i:02d}-{slug}.wav"
            out.write_bytes(ulaw_to_wav(ulaw))
            print(f"  {out.name}  {len(ulaw) / 8000:4.1f} s  (rendered in {time.monotonic() - started:.2f} s)"
                  f"{'  [recorded]' if audio else ''}")
    return 0


def _flows_schema(args: argparse.Namespace) -> int:
    from ivr.flow.schema import flow_schema

    print(json.dumps(flow_schema(), indent=2, ensure_ascii=False))
    return 0


def _load_or_report(path: Path) -> Flow | None:
    try:
        return load_flow(path)
    except FlowError as exc:
        print(exc, file=sys.stderr)
        return None


def _call(args: argparse.Namespace) -> int:
    flow = _load_or_report(args.flow)
    if flow is None:
        return 1
    if args.twilio:
        from ivr.terminal import call_time
        from testkit.twilio_terminal import run_terminal_call

        if args.at:
            print(f"note: --at is not used with --twilio: the gateway answers on its own clock "
                  f"(now {call_time(flow, None).astimezone(ZoneInfo(flow.timezone)):%a %H:%M} "
                  f"on the business's clock)", file=sys.stderr)
        return run_terminal_call(args)
    from ivr.terminal import TerminalCall, call_time

    try:
        at = call_time(flow, args.at)
        script = args.script.read_text(encoding="utf-8").splitlines() if args.script else None
    except ValueError:
        print(f"--at {args.at!r} is not a time; use ISO 8601, e.g. 2026-11-24T03:00", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"cannot read the script {args.script}: {exc.strerror}", file=sys.stderr)
        return 2
    call = TerminalCall(flow, sys.stdout, at, args.caller)
    if script is not None:
        lines: Iterator[str] = iter(script)
        call.run(lines)
    else:
        print(f"Calling {flow.name} ({flow.language}). Type what you would say; #5 presses 5; "
              "empty line = silence; /hangup ends. Ctrl-D hangs up.")
        call.run(_stdin_lines(), prompt=lambda: print("you> ", end="", flush=True))
    return 0


def _stdin_lines() -> Iterator[str]:
    yield from sys.stdin


def _users_add(args: argparse.Namespace) -> int:
    import getpass

    from ivr.config import Settings
    from ivr.store.calls import open_database
    from ivr.web.auth import Accounts, AuthError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.email}: ")
        if password != getpass.getpass("again: "):
            print("the passwords differ", file=sys.stderr)
            return 1
    try:
        Accounts(open_database(Settings.load().database_url)).add_user(args.email, password, args.role)
    except AuthError as exc:
        print(f"cannot add the user: {exc}", file=sys.stderr)
        return 1
    print(f"added {args.email} ({args.role})")
    return 0


def _accounts() -> Any:
    from ivr.config import Settings
    from ivr.store.calls import open_database
    from ivr.web.auth import Accounts

    return Accounts(open_database(Settings.load().database_url))


def _users_remove(args: argparse.Namespace) -> int:
    from ivr.web.auth import AuthError

    try:
        _accounts().remove_user(args.email)
    except AuthError as exc:
        print(f"cannot remove the user: {exc}", file=sys.stderr)
        return 1
    print(f"removed {args.email}; their sessions are over")
    return 0


def _users_logout(args: argparse.Namespace) -> int:
    print(f"ended {_accounts().end_sessions(args.email)} session(s) of {args.email}")
    return 0


def _cluster(args: argparse.Namespace) -> int:
    from ivr.cluster import run_cluster

    return run_cluster(args.instances, args.port)


def _db_upgrade(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from ivr.config import Settings
    from ivr.store.calls import open_database
    from ivr.store.migrate import head_revision

    settings = Settings.load()
    engine = open_database(settings.database_url)  # migrates, under the schema lock
    tables = len(inspect(engine).get_table_names())
    print(f"{settings.database_url}: schema at revision {head_revision()} ({tables} tables)")
    return 0


def _db_revision(args: argparse.Namespace) -> int:
    from ivr.config import Settings
    from ivr.store.calls import open_database
    from ivr.store.migrate import new_revision

    new_revision(open_database(Settings.load().database_url), args.message)
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from ivr.config import Settings
    from ivr.store.calls import CallStore, open_database
    from ivr.store.retention import Retention, clean_up
    from ivr.web.struggle import keep_recent_figures

    settings = Settings.load()
    keep = Retention(settings.keep_transcripts_days, settings.keep_recordings_days)
    def days(n: int) -> str:
        return f"{n} days" if n else "for ever"

    print(f"keeping transcripts {days(keep.transcript_days)}, recordings "
          f"{days(keep.recording_days)} ({settings.database_url})")
    engine = open_database(settings.database_url)
    keep_recent_figures(CallStore(engine))  # the console's day figures outlast the transcripts
    print(f"removed {clean_up(engine, keep)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from ivr.app import serve

    return serve(host=args.host, port=args.port)


if __name__ == "__main__":
    raise SystemExit(main())
