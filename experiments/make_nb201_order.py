"""Regenerate search_spaces/nb201_order.npy (official NB201 index -> base-5 op code) from the
benchmark's own architecture list (vtao_nats_bench.csv, rows in official index order).

    python experiments/make_nb201_order.py
"""

import argparse
import csv
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from search_spaces.nb201 import parse_arch_string  # noqa: E402

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data-dir", default=os.environ.get("GRADSIGN_NAS_DATA"), help="data directory (default: $GRADSIGN_NAS_DATA)"
    )
    args = ap.parse_args()
    with open(Path(args.data_dir) / "nb201" / "vtao_nats_bench.csv", newline="") as f:
        codes = [parse_arch_string(r["ArchitectureString"]).code for r in csv.DictReader(f)]
    assert len(codes) == 15625 and len(set(codes)) == 15625
    out = Path(__file__).resolve().parents[1] / "search_spaces" / "nb201_order.npy"
    np.save(out, np.asarray(codes, dtype=np.uint16), allow_pickle=False)
    print(f"wrote {out} ({len(codes)} codes)")
