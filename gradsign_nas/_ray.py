"""The one way the toolkit starts (or joins) Ray, and keeps Tune quiet.

``init_ray`` starts a new local Ray instance (dashboard off, bound to 127.0.0.1, token auth off, no
logs forwarded to the driver) or connects to an existing cluster at ``address``. It is the only
place that calls ``ray.init``: the fan-out of tabular runs, the Ray Tune executors, live searches
and parallel scoring all come through here. ``ray_session`` does the same as a context manager that
shuts down only what it started.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Iterator, Optional

from .errors import InputError

__all__ = ["check_address", "init_ray", "quiet_tune", "ray_session"]

#: seconds an address may take to answer before it is called unreachable (ours; Ray itself retries
#: for minutes). ``GRADSIGN_NAS_CONNECT_TIMEOUT`` overrides it.
CONNECT_TIMEOUT_S = 10.0


_log = logging.getLogger(__name__)


def _import_ray():
    try:
        import ray
    except ImportError:  # pragma: no cover - Ray is a declared dependency
        raise InputError("this needs Ray, but it is not installed; pip install 'ray[tune]'") from None
    return ray


def check_address(address: Optional[str]) -> None:
    """Refuse, in one sentence and within ``CONNECT_TIMEOUT_S``, an ``address`` that is not
    ``local``, ``auto`` or ``HOST:PORT`` (``ray://HOST:PORT`` for Ray Client) with something
    listening on it; ``None`` (a local Ray) passes."""
    if address is None or address in ("local", "auto"):
        return
    import socket

    text = str(address)
    hostport = text[len("ray://") :] if text.startswith("ray://") else text
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536 or len(text) > 300:
        raise InputError(f"expected --address as HOST:PORT (or 'local'), but got {text[:60]!r}")
    timeout = float(os.environ.get("GRADSIGN_NAS_CONNECT_TIMEOUT", CONNECT_TIMEOUT_S))
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        why = f"no answer within {timeout:g} s" if isinstance(e, socket.timeout) else e.strerror or type(e).__name__
        raise InputError(
            f"expected a Ray cluster at --address {text}, but it cannot be reached ({why.lower()})"
        ) from None


def init_ray(num_cpus: Optional[int] = None, address: Optional[str] = None, num_gpus: Optional[int] = None) -> bool:
    """Start a local Ray with ``num_cpus`` CPUs (default: all cores) or connect to ``address``;
    returns whether this call started it (and so should shut it down). A Ray already initialised in
    this process is used as it is."""
    ray = _import_ray()
    if ray.is_initialized():
        return False
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    if address and address != "local":
        _log.info("connecting to the Ray cluster at %s", address)
        try:
            ray.init(address=address, log_to_driver=False)
        except ConnectionError as e:  # something answers there, but not a Ray cluster
            raise InputError(f"expected a Ray cluster at --address {address}, but connecting failed ({e})") from None
    else:
        # address="local": always a new local instance, never a cluster someone else started here
        kwargs = {"num_gpus": num_gpus} if num_gpus is not None else {}
        ray.init(
            address="local",
            num_cpus=num_cpus or os.cpu_count() or 1,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
            **kwargs,
        )
        _log.debug("started a local Ray with %s CPUs (dashboard off, 127.0.0.1)", num_cpus or os.cpu_count() or 1)
    return True


@contextmanager
def ray_session(num_cpus: Optional[int] = None, address: Optional[str] = None) -> Iterator[None]:
    """``init_ray`` for the duration of a ``with`` block; shuts Ray down if it started it."""
    started = init_ray(num_cpus, address)
    try:
        yield
    finally:
        if started:
            import ray

            ray.shutdown()


@contextmanager
def quiet_tune() -> Iterator[None]:
    """Tune without console tables, result loggers or info/warning logs (the toolkit records and
    reports itself); errors still show."""
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    loggers = [logging.getLogger(n) for n in ("ray.tune", "ray.train", "ray.air")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
