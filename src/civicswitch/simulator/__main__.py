"""``python -m civicswitch.simulator --port P --secret WHSEC --callback URL --connector CODE …``"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import uvicorn

from civicswitch.simulator.app import MALFORMED, Mode, SimulatorConfig, SlowStyle, create_app


def parse(argv: list[str] | None = None) -> tuple[argparse.Namespace, SimulatorConfig]:
    parser = argparse.ArgumentParser(
        prog="python -m civicswitch.simulator", description="A simulated department system for the hub."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8399)
    parser.add_argument(
        "--secret",
        default=os.environ.get("CIVICSWITCH_SIM_SECRET"),
        help="the connector's signing secret, whsec_… (default: $CIVICSWITCH_SIM_SECRET)",
    )
    parser.add_argument("--connector", default="sim", help="the connector code on our side")
    parser.add_argument(
        "--callback", help="where status updates go: our base URL or the full …/connectors/{code}/updates URL"
    )
    parser.add_argument("--delay", type=float, default=1.0, help="seconds before each of ACK, WIP, DONE")
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=Mode.OK.value)
    parser.add_argument("--fail-rate", type=float, default=0.0, help="chance of a random 500 (0 to 1)")
    parser.add_argument("--slow-s", type=float, default=30.0, help="how long slow mode takes to answer")
    parser.add_argument(
        "--slow-style",
        choices=[s.value for s in SlowStyle],
        default=SlowStyle.HANG.value,
        help="slow mode: hang (silence, then the answer) or drip (the answer trickles out over --slow-s)",
    )
    parser.add_argument("--burst", type=int, default=None, help="5xx mode: answer this many 5xx, then go ok")
    parser.add_argument(
        "--malformed",
        default="truncated",
        help=f"comma-separated broken replies used in turn ({', '.join(MALFORMED)}), or 'all'",
    )
    parser.add_argument("--ref", choices=["external_id", "service_request_id"], default="external_id")
    parser.add_argument("--state-file", type=Path, default=None, help="keep what was done here across restarts")
    parser.add_argument("--seed", type=int, default=None, help="seed of the random failures")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if not args.secret:
        parser.error("--secret (or CIVICSWITCH_SIM_SECRET) is required")
    kinds = tuple(MALFORMED) if args.malformed == "all" else tuple(k.strip() for k in args.malformed.split(","))
    try:
        config = SimulatorConfig(
            secret=args.secret,
            connector=args.connector,
            callback=args.callback,
            delay=args.delay,
            mode=Mode(args.mode),
            fail_rate=args.fail_rate,
            slow_s=args.slow_s,
            slow_style=SlowStyle(args.slow_style),
            burst=args.burst,
            malformed=kinds,
            ref=args.ref,
            state_file=args.state_file,
            seed=args.seed,
        )
    except Exception as exc:  # a bad secret or option: say which, as argparse does
        parser.error(str(exc))
    return args, config


def main(argv: list[str] | None = None) -> None:
    args, config = parse(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s sim: %(message)s")
    print(f"department simulator on http://{args.host}:{args.port} (mode {config.mode})", file=sys.stderr, flush=True)
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=False,
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
