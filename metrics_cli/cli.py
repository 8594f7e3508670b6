"""The `nbhd` command line: parses arguments, calls one plain function, prints the result.

Exit codes: 0 success, 1 data problems found, 2 usage or environment error.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing.util
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from metrics_cli.errors import NbhdError, UsageError
from metrics_cli.files import (
    Signalled,
    check_not_input,
    check_warehouse_to_read,
    check_writable_path,
    is_disk_full,
    missing_directories,
    output_lock,
    printable,
    received_signal,
    remove_empty_directories,
    stopped_by_signals,
)
from metrics_cli.settings import load_settings

Handler = Callable[[argparse.Namespace], int]


def _warehouse(args: argparse.Namespace) -> Path:
    """The warehouse named on the command line, else the one `nbhd build` wrote last; it
    must be an existing DuckDB file."""
    chosen: Path | None = getattr(args, "warehouse", None)
    warehouse = chosen if chosen is not None else load_settings().warehouse
    check_warehouse_to_read(warehouse)
    return warehouse


# commands whose --out names a file; every other --out (and --into) is a directory
_FILE_OUTPUTS = frozenset({"submit"})


def check_paths(args: argparse.Namespace) -> None:
    """Usage errors in the paths given, found before any work: an output under a file, a
    file where a directory goes (or the reverse), an output over an input."""
    for option in ("out", "into"):
        path: Path | None = getattr(args, option, None)
        if path is not None:
            directory = args.command not in _FILE_OUTPUTS
            check_writable_path(path, f"--{option}", directory=directory)
    given = (getattr(args, name, None) for name in ("data", "data_dir", "file"))
    inputs = [p for p in given if isinstance(p, Path)]
    if "warehouse" in args and args.command != "build":
        # what report, publish, submit and docs read: an output never holds it
        chosen: Path | None = args.warehouse
        inputs.append(chosen if chosen is not None else load_settings().warehouse)
    out: Path | None = getattr(args, "out", None)
    if out is not None and inputs:
        check_not_input(out, inputs, "--out")


@contextmanager
def _output_locked(args: argparse.Namespace) -> Iterator[None]:
    """Hold the lock of the command's output (`--out` or `--into`), if it has one."""
    for option in ("out", "into"):
        path: Path | None = getattr(args, option, None)
        if path is not None:
            with output_lock(path, f"--{option}"):
                yield
            return
    yield


def _created_directories(args: argparse.Namespace) -> list[Path]:
    """The directories a command would create on the way to its outputs (its `--out` or
    `--into`, the folder of a build's warehouse or of `submit --out`), deepest first."""
    directories = []
    for option in ("out", "into", "warehouse"):
        path = getattr(args, option, None)
        if not isinstance(path, Path) or (option == "warehouse" and args.command != "build"):
            continue
        file_output = option == "warehouse" or args.command in _FILE_OUTPUTS
        directories += missing_directories(path.parent if file_output else path)
    return directories


def _run(args: argparse.Namespace) -> int:
    """The command itself, under its output lock. One that fails leaves no empty directory
    it created on the way to its output (`--out a/b/c` failing leaves no `a/b/`); one that
    existed is never removed."""
    handler: Handler = args.handler
    created = _created_directories(args)
    try:
        with _output_locked(args):
            code = handler(args)
    except BaseException:
        remove_empty_directories(created)
        raise
    if code != 0:
        remove_empty_directories(created)
    return code


_LONGEST_LABEL = 100


def _label(option: str, value: str | None) -> str | None:
    """A code or period label given on the command line (`--neighbourhood`, `--period`),
    without the spaces around it; one that is empty, holds a character that hides text
    (a new line, a direction override) or is implausibly long is a usage error, shown
    escaped and cut short rather than echoed whole."""
    if value is None:
        return None
    label = value.strip()
    if not label:
        raise UsageError(f"{option} is empty; give a code or label")
    if printable(label) != label or len(label) > _LONGEST_LABEL:
        shown = printable(label[:40]) + ("..." if len(label) > 40 else "")
        raise UsageError(f"{option} '{shown}' is not a code or label the warehouse could hold")
    return label


def _parse_vars(pairs: Sequence[str]) -> dict[str, str]:
    """`--vars key=value` pairs as a dict; a pair without `=` is a usage error."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--vars takes key=value pairs, not '{pair}'")
        parsed[key.strip()] = value.strip()
    return parsed


def cmd_generate(args: argparse.Namespace) -> int:
    from metrics_cli.generate import generate

    counts = generate(scale=args.scale, seed=args.seed, out=args.out)
    for dataset, rows in counts.items():
        print(f"{dataset:<24} {rows:>12,} rows")
    print(f"Synthetic {args.scale} data written to {args.out}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from metrics_cli.validate import format_report, validate_directory

    report = validate_directory(args.data_dir, args.out)
    print(format_report(report))
    return 1 if report.has_problems else 0


def cmd_import(args: argparse.Namespace) -> int:
    from metrics_cli.importers import import_published

    notes: list[str] = []
    written = import_published(
        args.kind,
        args.file,
        args.out,
        valid_from=args.valid_from,
        financial_year=args.financial_year,
        notes=notes,
    )
    for note in notes:
        print(f"note: {note}")
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from metrics_cli.build import build

    result = build(
        args.data, _warehouse_for_build(args), _parse_vars(args.vars), target=args.target
    )
    print(result.summary())
    return 0 if result.ok else 1


def _warehouse_for_build(args: argparse.Namespace) -> Path:
    chosen: Path | None = args.warehouse
    if chosen is not None:
        return chosen
    settings = load_settings()
    return settings.project_dir / "target" / "warehouse.duckdb"


def cmd_report(args: argparse.Namespace) -> int:
    from metrics_cli.report.run import render_reports

    scopes = {
        kind: _label(f"--{kind}", getattr(args, kind))
        for kind in ("neighbourhood", "provider", "place", "icb")
    }
    chosen = [(kind, code) for kind, code in scopes.items() if code]
    if args.all == bool(chosen) or len(chosen) > 1:
        raise UsageError("give exactly one of --neighbourhood, --provider, --place, --icb or --all")
    outcome = render_reports(
        warehouse=_warehouse(args),
        out=args.out,
        scope=None if args.all else chosen[0],
        fmt=args.format,
        period=_label("--period", args.period),
    )
    print(outcome.summary())
    return 0 if outcome.ok else 1


def cmd_publish(args: argparse.Namespace) -> int:
    from metrics_cli.publish import publish

    outcome = publish(warehouse=_warehouse(args), out=args.out)
    print(outcome.summary())
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from metrics_cli.returns.submit import submit

    outcome = submit(
        warehouse=_warehouse(args),
        provider=_label("--provider", args.provider) or "",
        period=_label("--period", args.period),
        data_dir=args.data,
        out=args.out,
    )
    print(outcome.summary())
    return 0 if outcome.ok else 1


def cmd_consolidate(args: argparse.Namespace) -> int:
    from metrics_cli.returns.consolidate import consolidate

    outcome = consolidate(files=args.files, into=args.into, replace=args.replace)
    print(outcome.summary())
    return 0 if outcome.ok else 1


def cmd_docs(args: argparse.Namespace) -> int:
    from metrics_cli.dbt_docs import generate_docs

    outcome = generate_docs(warehouse=_warehouse(args), out=args.out)
    print(outcome.summary())
    return 0 if outcome.ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from metrics_cli.demo import run_demo

    return run_demo(out=args.out, scale=args.scale, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line, in one place."""
    parser = argparse.ArgumentParser(
        prog="nbhd",
        description="Outcomes metrics and maturity-matrix reports for integrated primary care.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    def add_warehouse(command: argparse.ArgumentParser) -> None:
        command.add_argument(
            "--warehouse",
            type=Path,
            help="DuckDB warehouse (default: the one `nbhd build` wrote last, or $NBHD_WAREHOUSE)",
        )

    demo = add("demo", cmd_demo, "generate the synthetic ICB, build, render every report")
    demo.add_argument("--out", type=Path, default=Path("demo"))
    demo.add_argument("--scale", choices=["tiny", "icb"], default="icb")
    demo.add_argument("--seed", type=int, default=2022)

    gen = add("generate", cmd_generate, "write deterministic synthetic input data")
    gen.add_argument("--scale", choices=["tiny", "icb", "national"], default="icb")
    gen.add_argument("--seed", type=int, default=2022)
    gen.add_argument("--out", type=Path, required=True)

    val = add("validate", cmd_validate, "check an input directory, row by row")
    val.add_argument("data_dir", type=Path)
    val.add_argument(
        "--out",
        type=Path,
        default=Path("target") / "validation",
        help="where the problem report, quarantine and validated files go",
    )

    imp = add("import", cmd_import, "turn a published NHS file into input datasets")
    imp.add_argument("kind", choices=["gpad", "payments", "epcn", "population", "imd"])
    imp.add_argument("file", type=Path)
    imp.add_argument("--out", type=Path, required=True)
    imp.add_argument(
        "--valid-from",
        default=None,
        help="organisations: first date a snapshot mapping holds from (default 1900-01-01)",
    )
    imp.add_argument(
        "--financial-year",
        default=None,
        help="payments: the financial year, e.g. 2022/23 (default: from the file name)",
    )

    bld = add("build", cmd_build, "validate, load and build the warehouse with dbt")
    bld.add_argument("--data", type=Path, required=True)
    bld.add_argument("--warehouse", type=Path)
    bld.add_argument("--vars", nargs="*", default=[], metavar="KEY=VALUE")
    bld.add_argument(
        "--target",
        choices=["duckdb", "spark"],
        default="duckdb",
        help="where dbt builds: DuckDB (default) or a local Spark session; "
        "either way the marts end in the DuckDB warehouse file",
    )

    rep = add("report", cmd_report, "render board reports (PDF or HTML)")
    for scope in ("neighbourhood", "provider", "place", "icb"):
        rep.add_argument(f"--{scope}", metavar="CODE")
    rep.add_argument("--all", action="store_true", help="every report, in parallel")
    rep.add_argument("--format", choices=["pdf", "html"], default="pdf")
    rep.add_argument("--period", help="period label (default: the latest complete period)")
    rep.add_argument("--out", type=Path, required=True)
    add_warehouse(rep)

    pub = add("publish", cmd_publish, "write disclosure-controlled open files")
    pub.add_argument("--out", type=Path, required=True)
    add_warehouse(pub)

    sbm = add("submit", cmd_submit, "write an at-scale provider's consolidated return")
    sbm.add_argument("--provider", required=True)
    sbm.add_argument("--period", help="assessment period label (default: the latest)")
    sbm.add_argument("--data", type=Path, required=True)
    sbm.add_argument("--out", type=Path, required=True)
    add_warehouse(sbm)

    con = add("consolidate", cmd_consolidate, "merge provider returns into an input directory")
    con.add_argument("files", type=Path, nargs="+")
    con.add_argument("--into", type=Path, required=True)
    con.add_argument("--replace", action="store_true", help="accept changed resubmissions")

    docs = add("docs", cmd_docs, "generate the dbt documentation site for a warehouse")
    docs.add_argument("--out", type=Path, default=Path("target") / "docs")
    add_warehouse(docs)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `nbhd` console script (`argv` None: the process's own arguments;
    tests pass theirs)."""
    code = _main(argv)
    if argv is None and _STOPPED:
        _leave(code)
    return code


# whether the command was stopped by a signal (set by `_stopped`)
_STOPPED: list[bool] = []


def _main(argv: Sequence[str] | None) -> int:
    _STOPPED.clear()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with stopped_by_signals():
            check_paths(args)
            return _run(args)
    except Signalled as signalled:
        return _stopped(str(signalled))
    except NbhdError as error:
        if args.debug:
            traceback.print_exc()
        print(f"nbhd: {error}", file=sys.stderr)
        if received_signal() is not None:
            _STOPPED.append(True)
        return error.exit_code
    except OSError as error:
        # a path the checks above could not foresee (permissions, a full disk, a file
        # removed meanwhile): one sentence, exit 2 (an environment error)
        if args.debug:
            traceback.print_exc()
        print(f"nbhd: {_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _stopped(signal.SIGINT.name)
    except Exception as error:
        received = received_signal()
        if received is not None and not args.debug:
            return _stopped(received)
        # DuckDB, polars and pyarrow report a full disk in their own exception types
        if not is_disk_full(error) or args.debug:
            raise
        print(f"nbhd: the disk is full ({str(error).splitlines()[0]})", file=sys.stderr)
        return 2


def _stopped(signal_name: str) -> int:
    """A command stopped by ctrl-C (SIGINT) or SIGTERM: one sentence, and the shell's exit
    code for that signal (130, 143)."""
    print(f"nbhd: stopped by {signal_name}; temporary files were removed", file=sys.stderr)
    _STOPPED.append(True)
    return 128 + signal.Signals[signal_name].value


def _leave(code: int) -> None:
    """End the `nbhd` process stopped by a signal now, with `code`, if a library's threads
    (dbt's model runners) remain: they may still be inside DuckDB, and ending the
    interpreter while they are aborts it (exit -6, C++ messages on stderr). Everything of
    ours is cleaned up by now; multiprocessing's own exit step runs first (it releases the
    semaphores dbt made, which its resource tracker would otherwise warn about). Only for
    the command line itself: a caller of `main` in-process (tests) gets the code back."""
    if threading.active_count() > 1:
        exit_step = getattr(multiprocessing.util, "_exit_function", None)  # not typed
        if exit_step is not None:
            with contextlib.suppress(Exception):
                exit_step()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _os_error(error: OSError) -> str:
    if is_disk_full(error):
        return f"the disk is full ({error.strerror or error}); nothing was replaced"
    reason = (error.strerror or str(error)).rstrip(".")
    where = f": {error.filename}" if error.filename else ""
    return f"{reason}{where}".replace("\n", " ")


if __name__ == "__main__":
    sys.exit(main())
