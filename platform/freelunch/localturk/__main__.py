"""``python -m freelunch.localturk --port 8900``: the local MTurk on its own (see ``freelunch.localturk``)."""

from __future__ import annotations

import argparse
import os
import sys

from . import NotInDevelopment, serve
from .store import Faults, Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m freelunch.localturk", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback only (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--state", help="a JSON file to keep the state in across restarts (default: memory only)")
    parser.add_argument("--balance", default="10000.00", help="the account's starting balance in dollars")
    parser.add_argument(
        "--log", choices=("all", "failures", "none"), default="all", help="which requests to log (default: all)"
    )
    parser.add_argument(
        "--faults",
        default=os.environ.get("LOCALTURK_FAULTS", ""),
        help="throttle and/or drop-create[=N], comma-separated (default: $LOCALTURK_FAULTS)",
    )
    args = parser.parse_args(argv)
    try:
        faults = Faults.parse(args.faults)
        store = Store(args.state, balance=args.balance)
        store.faults = faults
        server = serve(store, args.host, args.port, log=args.log)
    except (NotInDevelopment, ValueError, ArithmeticError, OSError) as error:
        print(f"localturk: {error}", file=sys.stderr)
        return 2
    print(f"Local MTurk on http://{args.host}:{server.port}/  (workers: /worker/)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
