"""What a live search reports: its summary from the run folders' files, a text table and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional


def summarise(
    run_dirs: dict, wall_s: float, metric: str = "valid_acc", final_epochs: Optional[int] = None, bench: Any = None
) -> dict:
    """One JSON-ready summary of the variants' run directories (from their files only): per variant
    ``best_<metric>`` and ``mean_<metric>`` (e.g. ``best_valid_acc``), trials, times, the curve; with
    ``final_epochs`` the final evaluation (``final_test_acc`` of the best network, ``final`` for each
    network trained); with NB201's table ``bench`` the found cell's ``nb201_*_test`` accuracies and
    ``reward_rank_agreement`` (see ``gradsign_nas.api._final``)."""
    from ..results import read_best, read_history
    from ._final import TRUTH_NOTE, rank_agreement, read_finals, truth_of

    out: dict[str, Any] = {"wall_s": round(wall_s, 1), "metric": metric, "variants": {}}
    if bench is not None:
        out["note"] = TRUTH_NOTE
    for variant, d in run_dirs.items():
        recs = read_history(d)
        done = [x for x in recs if x["status"] == "completed"]
        best = read_best(d)
        metrics = [x["metric"] for x in done]
        t0 = min((r["wall_start"] for r in done), default=0.0)
        out["variants"][variant] = {
            "best_arch": best["arch"] if best else None,
            f"best_{metric}": best["metric"] if best else None,
            f"mean_{metric}": sum(metrics) / len(metrics) if metrics else None,
            "trials": len(done),
            "failed": sum(x["status"] == "failed" for x in recs),
            "train_s": round(sum(x["cost_s"] for x in done), 1),
            "proxy_s": round(sum(x.get("proxy_cost_s") or 0.0 for x in recs), 1),
            "dir": str(d),
            "curve": [x["metric"] for x in done],
            "wall": [x["wall_time"] - t0 for x in done],
        }
        v = out["variants"][variant]
        if final_epochs is not None:
            finals = read_finals(d, final_epochs)
            v["final_epochs"] = final_epochs
            v["final_test_acc"] = finals[0]["final_test_acc"] if finals else None
            v["final"] = finals
        if bench is not None:
            v.update(truth_of(bench, v["best_arch"]))
            v["reward_rank_agreement"] = rank_agreement(recs, bench)
    return out


def format_summary(summary: dict) -> str:
    """The variants side by side as a small text table."""
    vs = summary["variants"]
    names = list(vs)
    m = summary.get("metric", "valid_acc")
    label = m.replace("_", " ") + (" (%)" if m.endswith("acc") else "")
    rows = [
        ("", *names),
        (f"best {label}", *(_fmt(vs[v][f"best_{m}"]) for v in names)),
        (f"mean {label}", *(_fmt(vs[v][f"mean_{m}"]) for v in names)),
        *(
            [("final test acc (%)", *(_fmt(vs[v].get("final_test_acc")) for v in names))]
            if any("final_test_acc" in vs[v] for v in names)
            else []
        ),
        *(
            [("NB201 C10 test of the cell *", *(_fmt(vs[v].get("nb201_cifar10_test")) for v in names))]
            if any("nb201_cifar10_test" in vs[v] for v in names)
            else []
        ),
        ("trials (failed)", *(f"{vs[v]['trials']} ({vs[v]['failed']})" for v in names)),
        ("training s", *(str(vs[v]["train_s"]) for v in names)),
        ("proxy s", *(str(vs[v]["proxy_s"]) for v in names)),
    ]
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, width)) for r in rows]
    for v in names:
        lines.append(f"best {v}: {vs[v]['best_arch']}")
    for v in names:
        agree = vs[v].get("reward_rank_agreement")
        if agree and agree.get("spearman") is not None:
            lines.append(f"reward rank agreement ({v}): Spearman {agree['spearman']:.3f} over {agree['n']} cells")
    if summary.get("note"):
        lines.append(f"* {summary['note']}")
    lines.append(f"total wall time: {summary['wall_s']} s")
    return "\n".join(lines)


def _fmt(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.2f}"


def plot_runs(summary: dict, path: Path) -> Path:
    """Each trial's validation accuracy as a point and the best so far as steps, against trials and
    against wall time, one colour per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .._io import atomic_path

    s = summary.get("settings", {})
    fig, axes = plt.subplots(1, 2, figsize=(9.5, 3.6))
    for i, (variant, v) in enumerate(summary["variants"].items()):
        ys = v["curve"]
        if not ys:
            continue
        pick = min if summary.get("metric", "valid_acc").endswith("loss") else max
        best = [pick(ys[: j + 1]) for j in range(len(ys))]
        color = f"C{i}"
        for ax, xs in ((axes[0], list(range(1, len(ys) + 1))), (axes[1], v["wall"])):
            ax.scatter(xs, ys, s=12, color=color, alpha=0.5)
            ax.step(xs, best, where="post", color=color, label=f"{variant} (best {best[-1]:.2f})")
    axes[0].set_xlabel("trials finished")
    axes[1].set_xlabel("wall time (s)")
    for ax in axes:
        ax.set_ylabel(
            summary.get("metric", "valid_acc").replace("valid_", "validation ").replace("acc", "accuracy (%)")
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    n = max((len(v["curve"]) for v in summary["variants"].values()), default=0)
    fig.suptitle(
        f"{s.get('algorithm', '')} on {s.get('data', '')} ({s.get('space', '')}), seed {s.get('seed', '')}, "
        f"n = {n} trials per variant: points = trials, steps = best so far",
        fontsize=9,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
