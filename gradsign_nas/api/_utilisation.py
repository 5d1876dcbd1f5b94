"""Where and when a live comparison's trials ran, and how full its trial slots were.

Every live trial records its node, GPU ids and the wall-clock seconds its training started and ended
(``extra["trial_start"]``, ``extra["trial_end"]``; records without them fall back on the driver's
``wall_start`` / ``wall_time``). From those: the slot utilisation, busy trial-slot seconds over the
slot seconds available from the first trial's start to the last trial's end, and a timeline that
packs the trials into rows, one row per slot (a node's trials on that node's rows).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Optional

__all__ = ["idle_breakdown", "intervals", "pack_rows", "slot_utilisation"]


def intervals(records_by_search: Mapping[str, Iterable[dict]]) -> list[dict]:
    """One ``{"search", "ask", "node", "gpus", "start", "end"}`` per trial that ran (completed or
    discarded; a failed trial's interval is unknown), sorted by start."""
    out = []
    for sid, records in records_by_search.items():
        for r in records:
            if r.get("status") == "failed":
                continue
            extra = r.get("extra") or {}
            start = extra.get("trial_start", r.get("wall_start"))
            end = extra.get("trial_end", r.get("wall_time"))
            if start is None or end is None or end < start:
                continue
            node = extra.get("node", r.get("worker"))
            out.append(
                {
                    "search": sid,
                    "ask": r.get("ask"),
                    "node": str(node),
                    "gpus": list(extra.get("gpus") or []),
                    "start": float(start),
                    "end": float(end),
                }
            )
    return sorted(out, key=lambda x: (x["start"], x["end"]))


def pack_rows(spans: list[dict]) -> list[str]:
    """The timeline row of each interval of ``spans`` (sorted by start): per node, the lowest row
    free when it starts, named ``<node, shortened> #<i>``; a node's rows are its slots in use."""
    free: dict[str, list[float]] = {}  # node -> end of the last interval on each of its rows
    rows = []
    for s in spans:
        ends = free.setdefault(s["node"], [])
        i = next((k for k, e in enumerate(ends) if e <= s["start"]), len(ends))
        if i == len(ends):
            ends.append(s["end"])
        else:
            ends[i] = s["end"]
        rows.append(f"{s['node'][:8]} #{i + 1}")
    return rows


def slot_utilisation(spans: list[dict], slots: Optional[int]) -> dict:
    """``{"slots", "trials", "busy_s", "span_s", "utilisation", "nodes", "idle"}``: busy trial-slot
    seconds over ``slots`` x the seconds from the first trial's start to the last one's end (``None``
    without trials or slots), and where the idle slot seconds went (``idle_breakdown``)."""
    if not spans:
        return {"slots": slots, "trials": 0, "busy_s": 0.0, "span_s": 0.0, "utilisation": None, "nodes": 0}
    busy = sum(s["end"] - s["start"] for s in spans)
    span = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    util = busy / (slots * span) if slots and span > 0 else None
    return {
        "slots": slots,
        "trials": len(spans),
        "busy_s": round(busy, 2),
        "span_s": round(span, 2),
        "utilisation": round(util, 4) if util is not None else None,
        "nodes": len({s["node"] for s in spans}),
        "idle": idle_breakdown(spans, slots),
    }


def idle_breakdown(spans: list[dict], slots: Optional[int]) -> dict:
    """Where the idle slot seconds between the first trial's start and the last one's end went, over
    the timeline rows of ``pack_rows``: ``ramp_s`` (each row before its first trial), ``gaps_s``
    (between two trials of a row: trial start-up, the searcher, the driver's proxy scoring),
    ``mean_gap_s`` (per gap), ``tail_s`` (each row after its last trial) and ``unused_s`` (slots
    that no trial used, x the span). With ``slots`` rows they add up to slots x span - busy."""
    t0 = min(s["start"] for s in spans)
    t1 = max(s["end"] for s in spans)
    rows: dict[str, list[dict]] = {}
    for s, row in zip(spans, pack_rows(spans)):
        rows.setdefault(row, []).append(s)
    ramp = tail = gaps = 0.0
    n_gaps = 0
    for trials in rows.values():
        ramp += trials[0]["start"] - t0
        tail += t1 - trials[-1]["end"]
        for a, b in zip(trials, trials[1:]):
            gaps += b["start"] - a["end"]
            n_gaps += 1
    unused = max(0, (slots or len(rows)) - len(rows)) * (t1 - t0)
    return {
        "ramp_s": round(ramp, 2),
        "gaps_s": round(gaps, 2),
        "mean_gap_s": round(gaps / n_gaps, 3) if n_gaps else None,
        "tail_s": round(tail, 2),
        "unused_s": round(unused, 2),
    }
