"""A department simulator: a small separate web app that plays a department's back-end system, for
fault-injection tests and demos of the integration hub.

It receives our webhooks (``POST /webhook`` or ``POST /``: CloudEvents signed with Standard Webhooks, verified
with the ``standardwebhooks`` library), does each effect once per ``webhook-id`` (redeliveries are answered
with the first answer and counted as detected duplicates), answers ``200 {"external_id": "WO-000001"}``, and
for a new request sends status updates back to our ``/api/v1/connectors/{code}/updates``, signed with the same
secret, ``--delay`` seconds apart: ``ACK`` → ``WIP`` → ``DONE``. The connector's status map that matches is
:data:`STATUS_MAP` (inbound ``{"ACK": "acknowledged", "WIP": "in_progress", "DONE": "closed/fixed"}``).

Run it::

    python -m civicswitch.simulator --port 8399 --secret whsec_… --connector dot-sim \\
        --callback http://127.0.0.1:8311 [--delay 1] [--mode ok|down|slow|5xx|malformed|gone] \\
        [--fail-rate 0.2] [--state-file sim.json]

and point a webhook connector at it (``civicswitch connectors add webhook --body DOT --code dot-sim
--set url=http://127.0.0.1:8399/webhook --status-map map.json``; the secret it prints is ``--secret``).

Failure switches (``--mode``, or ``POST /_sim/mode {"mode": …, "fail_rate": …, "burst": …, "slow_s": …}`` at
run time): ``down`` answers 503 (a stopped process is the real "down"); ``slow`` does the work and answers after
``--slow-s`` seconds (past the caller's timeout, so the caller retries and the receiver sees a duplicate;
``--slow-style drip`` answers at once but trickles the body out over ``--slow-s`` seconds instead);
``5xx`` answers 500/502/503/504 before doing anything (``--burst N``: only N of them, then ``ok``);
``--fail-rate`` adds random 500s (before any work); ``malformed`` does the work and answers a broken reply
(``--malformed truncated,html,…``: see :data:`MALFORMED`); ``gone`` answers 410. ``GET /_sim/stats`` counts what
arrived (received, unique effects, duplicates, answers by mode, callbacks); ``GET /_sim/effects`` lists the
effects with their keys. Open311 GeoReport v2 ``POST /open311/v2/requests.json`` (a new work order each time:
Open311 has no idempotency key) and ``servicerequestupdates.json`` (deduplicated on ``update_id``) are
accepted too, with the secret as ``api_key``.
"""

from civicswitch.simulator.app import (
    MALFORMED,
    SAFE_MALFORMED,
    STATUS_MAP,
    Mode,
    SimulatorConfig,
    SlowStyle,
    create_app,
)
from civicswitch.simulator.ledger import Effect, Ledger

__all__ = [
    "MALFORMED",
    "SAFE_MALFORMED",
    "STATUS_MAP",
    "Effect",
    "Ledger",
    "Mode",
    "SimulatorConfig",
    "SlowStyle",
    "create_app",
]
