"""Command line: python -m lab {assets,run,refresh,book,status} ... (also installed as `lab`)."""
from __future__ import annotations

import argparse
import sys

from .models import assets
from .publish import pages, runner


def _assets(args) -> int:
    names = args.names or ([n for n, a in assets.ASSETS.items() if not a.optional] if args.action != "list"
                           else list(assets.ASSETS))
    if args.all:
        names = list(assets.ASSETS)
    try:
        chosen = {name: assets.get(name) for name in names}  # unknown names fail before any download
    except KeyError as exc:  # only this look-up of names typed on the line: a KeyError elsewhere is a bug
        print(f"lab: error: {exc.args[0]}", file=sys.stderr)
        return 2
    bad = 0
    for name, a in chosen.items():
        if args.action == "list":
            print(f"{name:20s} {assets.status(name):10s} {a.licence}  ({a.description})")
        elif args.action == "verify":
            state = assets.status(name)
            print(f"{name}: {state}")
            bad += state != "ok"
        else:
            assets.fetch(name, force=args.force)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    pa = sub.add_parser("assets", help="list, fetch or verify the registry assets")
    pa.add_argument("action", choices=["list", "fetch", "verify"])
    pa.add_argument("names", nargs="*", help="asset names (default: all required ones)")
    pa.add_argument("--all", action="store_true", help="include optional assets (Gemma)")
    pa.add_argument("--force", action="store_true", help="re-download and re-convert")

    pr = sub.add_parser("run", help="execute a chapter notebook into runs/ with provenance")
    pr.add_argument("notebook")
    pr.add_argument("--profile", default=runner.PUBLISHED_PROFILE)
    pr.add_argument("--output", default=None, help="output notebook (must not exist)")

    pf = sub.add_parser("refresh", help="re-execute notebooks/X.ipynb in place with its quick profile")
    pf.add_argument("notebooks", nargs="+")

    pb = sub.add_parser("book", help="execute stale chapters and build the HTML book")
    pb.add_argument("--only", nargs="*", default=None, help="force these chapters to re-execute")
    pb.add_argument("--profile", default=None, help="profile for executed chapters (default cpu or $LAB_PROFILE)")
    pb.add_argument("--no-build", action="store_true", help="execute only, do not build HTML")
    pb.add_argument("--no-execute", action="store_true",
                    help="build the HTML from the committed executed chapters, executing nothing")

    ps = sub.add_parser("status", help="say which pages `make book` would re-execute and which run steps it would "
                        "compute, and why; exit 1 if any of the default profile is stale")
    ps.add_argument("--json", action="store_true", help='print {"pages": [...]} for programs')

    args, rest = parser.parse_known_args(argv)
    try:
        if args.command == "assets":
            return _assets(args)
        if args.command == "run":
            stem = runner.notebook_path(args.notebook).stem
            overrides = runner.main_run_args(rest)
            out = pages.executed(stem, None, lambda: runner.run(args.notebook, args.profile, overrides,
                                                                output=args.output))
            print(f"executed: {out}")
            return 0
        if rest:
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if args.command == "status":
            from .publish import status

            return status.report(as_json=args.json)
        if args.command == "refresh":
            for nb in args.notebooks:
                # the reference outputs are computed, never read from a result: LAB_STEPS=off
                out = pages.executed(runner.notebook_path(nb).stem, "off", lambda: runner.refresh(nb))
                print(f"refreshed: {out.relative_to(runner.REPO)}")
            return 0
        if args.command == "book":
            from .publish import book

            if not args.no_execute:
                executed = book.execute_stale(args.only, args.profile)
                print(f"executed {len(executed)} chapter(s): {', '.join(executed) or 'none (all up to date)'}")
                from .publish import pagefold

                pagefold.fold_pages(runner.BOOK)
            if not args.no_build:
                book.build_html()
            return 0
    except (runner.RunError, assets.AssetMissing, assets.AssetCorrupt) as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
