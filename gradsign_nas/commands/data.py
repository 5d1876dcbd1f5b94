"""Check the data files (sha256) in a data directory, or download them from their public sources: the
benchmark tables and subsets, and the CIFAR-10/100 images the tests and the README's commands read."""

from __future__ import annotations

import argparse
import os
import stat

from ._options import add_option


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action", choices=["check", "download"], help="check: verify what is present; download: fetch what is missing"
    )
    add_option(p, "data_dir")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each download")
    p.add_argument(
        "--mirror",
        default=None,
        help="fetch from MIRROR/<repo>/<commit>/<path> instead of https://raw.githubusercontent.com (file:// works)",
    )
    add_option(p, "no_progress")


def run(args: argparse.Namespace) -> int:
    from .._io import kind_of
    from ..api._checks import check_out_dir
    from ..benchmarks import _files
    from ..errors import DataError

    d = _files.data_dir(args.data_dir)
    if args.timeout is None or not args.timeout > 0 or args.timeout == float("inf"):
        raise DataError(f"expected --timeout to be a positive number of seconds, but got {args.timeout}")
    if args.action == "download":  # the folder it writes into, checked as every output path is
        check_out_dir(args.data_dir if args.data_dir is not None else d, "data_dir")
    else:
        try:
            mode = os.stat(d).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as e:
            raise DataError(
                f"expected --data-dir to be a readable folder, but {str(d)[:200]} is not ({e.strerror})"
            ) from None
        if mode is not None and not stat.S_ISDIR(mode):
            raise DataError(f"expected --data-dir to be a directory, but {d} is {kind_of(mode)}")
    if args.action == "download":
        paths = _files.download(args.data_dir, timeout=args.timeout, progress=not args.no_progress, mirror=args.mirror)
        print(f"{len(paths)} files present and verified in {_files.data_dir(args.data_dir)}")
        return 0
    bad = 0
    for key, f in _files.FILES.items():
        try:
            _files.locate(key, args.data_dir)
            print(f"ok       {f.path}")
        except DataError as e:
            bad += 1
            print(f"problem  {e}")
    if bad:  # the problems are listed above; the refusal itself is the one error line
        raise DataError(
            f"expected every data file present and verified in {d}, but {bad} of {len(_files.FILES)} are "
            "missing or corrupt (listed above); run `gradsign-nas data download` to fetch them"
        )
    return 0
