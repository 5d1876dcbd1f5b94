"""Live search, vanilla vs GradSign-assisted, every trial a real training run, timed as a whole.

The options are those of ``gradsign-nas search`` (the same run: ``gradsign_nas.search`` with a
``gradsign_nas.SearchConfig``, each option from the config's field of the same name); the defaults
reproduce its main command. On a GPU machine without Ray, e.g.:

    python3 experiments/live_digits.py --device cuda --data cifar10 --epochs 4 --trials 10 --no-ray \\
        --data-dir "$GRADSIGN_NAS_DATA" --out live-cifar10

(CIFAR-10: the 10,000-image npz, 20% held out for validation, NB201 at C=16, N=5 unless --C/--N.)
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parser() -> argparse.ArgumentParser:
    """The search's options, one per field of ``gradsign_nas.SearchConfig`` (its defaults and help), and --json."""
    import gradsign_nas

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for f in dataclasses.fields(gradsign_nas.SearchConfig):
        o = f.metadata["option"]
        if o.switch:
            p.add_argument(o.flag, dest=f.name, action="store_true", help=o.help)
        else:
            p.add_argument(
                o.flag, dest=f.name, type=o.type, default=o.default, choices=o.choices, metavar=o.metavar, help=o.help
            )
    p.add_argument("--json", action="store_true", help="print the search's summary.json as the last line on stdout")
    return p


def main(argv=None) -> int:
    import gradsign_nas

    args = vars(parser().parse_args(argv))
    as_json = args.pop("json")
    log = logging.getLogger("gradsign_nas")  # the search's messages (e.g. a resume) on stderr
    log.setLevel(logging.INFO)
    log.addHandler(logging.StreamHandler(sys.stderr))
    t0 = time.perf_counter()
    try:
        result = gradsign_nas.search(gradsign_nas.SearchConfig(**args))
    except gradsign_nas.GradSignNASError as e:  # bad options or data: one sentence, exit 2
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(result.format())
    print(f"wrote {result.out}/summary.json, live_search.png and report.html", file=sys.stderr)
    print(f"experiment wall time: {time.perf_counter() - t0:.1f} s")
    if as_json:
        import json

        print(json.dumps(result.summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
