"""``snnbench data list`` and ``snnbench data fetch NAME``: the downloadable public sets,
what is cached, and verified downloads into the data folder."""

from __future__ import annotations

import argparse


def _cmd_list(args: argparse.Namespace) -> int:
    from .data.download import describe
    from .data.paths import default_data_root

    root = args.root or default_data_root()
    print(f"Data folder: {root}  (set SNNBENCH_DATA or --root to use another)")
    for r in describe(args.root):
        print(f"  {r['name']:<14} {r['state']:<32} {r['size']:<14} data.name={'|'.join(r['used_by']):<20} "
              f"checksum: {r['checksum']}")
    print("Fetch one with: snnbench data fetch NAME  (or data.download: true in a config)")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from .data.download import fetch

    for name in args.names:
        base = fetch(name, args.root, allow_unverified=args.allow_unverified, progress=not args.no_progress)
        print(f"{name}: ready in {base}")
    return 0


def add_data_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``snnbench data {list,fetch}`` on the top-level subparsers."""
    p = sub.add_parser("data", help="downloadable datasets: list what is cached, fetch with checksums")
    dsub = p.add_subparsers(dest="data_command", required=True)
    p_list = dsub.add_parser("list", help="downloadable sets, where they go and whether they are cached")
    p_list.add_argument("--root", help="data folder (default: $SNNBENCH_DATA or the user cache)")
    p_list.set_defaults(func=_cmd_list)
    p_fetch = dsub.add_parser("fetch", help="download and verify sets into the data folder")
    p_fetch.add_argument("names", nargs="+", metavar="NAME")
    p_fetch.add_argument("--root", help="data folder (default: $SNNBENCH_DATA or the user cache)")
    p_fetch.add_argument("--allow-unverified", action="store_true",
                         help="also fetch sets without a published checksum (FSDD, WISDM)")
    p_fetch.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_fetch.set_defaults(func=_cmd_fetch)
