"""Stress c104 2.2.1 the way the crash of ADR 0052 needs: general interrogations in a loop, answered by an
outstation in its own process (so a crash here is the client side), with the unexpected-message callback
reading messages either as GridOS once did or as it does now.

    .venv/bin/python -X faulthandler scripts/c104_stress.py --callback walk-all --seconds 20   # crashes
    .venv/bin/python -X faulthandler scripts/c104_stress.py --callback gridos --seconds 20     # survives

--callback walk-all: every unexpected message is walked (first()/next()/info), INVALID_COT included, while
c104's receive thread still walks it (GridOS before the fix). --callback gridos: only MISMATCHED_TYPE_ID and
UNKNOWN_IOA messages, which c104 has dropped, are walked (gridos.ingest.iec104). --client-map: `same` maps
the outstation's M_ME_TF_1 points as they are (each GI answer is INVALID_COT), `untagged` maps them as
M_ME_NC_1 (each answer is also MISMATCHED_TYPE_ID and walked in full), `gaps` leaves every 7th IOA out
(UNKNOWN_IOA). --replace-infos: the outstation replaces its points' infos from a Python thread all the while
(the simulator's side of ADR 0052). Exit code 0 and one summary line, or death by SIGSEGV.
"""

import argparse
import datetime as dt
import multiprocessing as mp
import socket
import threading
import time
from multiprocessing.synchronize import Event

import c104

POINTS = 120


def serve(port: int, ready: Event, replace_infos: bool) -> None:
    server = c104.Server(ip="127.0.0.1", port=port, tick_rate_ms=50)
    station = server.add_station(common_address=7)
    assert station is not None
    points = []
    for i in range(POINTS):
        point = station.add_point(io_address=100 + i, type=c104.Type.M_ME_TF_1)
        assert point is not None
        point.info = c104.ShortInfo(actual=float(i), recorded_at=dt.datetime.now(dt.UTC))
        points.append(point)
    server.start()
    ready.set()
    n = 0
    while True:
        if not replace_infos:
            time.sleep(1)
            continue
        for point in points:
            point.info = c104.ShortInfo(actual=float(n), recorded_at=dt.datetime.now(dt.UTC))
            n += 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--callback", choices=["walk-all", "gridos"], required=True)
    parser.add_argument("--client-map", choices=["same", "untagged", "gaps"], default="same")
    parser.add_argument("--replace-infos", action="store_true")
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    ready = ctx.Event()
    outstation = ctx.Process(target=serve, args=(port, ready, args.replace_infos), daemon=True)
    outstation.start()
    if not ready.wait(10):
        raise SystemExit("the outstation did not start")

    client = c104.Client(tick_rate_ms=50)
    conn = client.add_connection(ip="127.0.0.1", port=port, init=c104.Init.NONE)
    assert conn is not None
    station = conn.add_station(common_address=7)
    assert station is not None
    counts = {"received": 0, "unexpected": 0, "walked": 0}
    lock = threading.Lock()

    def on_receive(
        point: c104.Point, previous_info: c104.Information, message: c104.IncomingMessage
    ) -> c104.ResponseState:
        _ = point.info.value
        with lock:
            counts["received"] += 1
        return c104.ResponseState.SUCCESS

    client_type = c104.Type.M_ME_NC_1 if args.client_map == "untagged" else c104.Type.M_ME_TF_1
    for i in range(POINTS):
        if args.client_map == "gaps" and i % 7 == 3:
            continue
        point = station.add_point(io_address=100 + i, type=client_type)
        assert point is not None
        point.on_receive(on_receive)

    def on_unexpected_message(
        connection: c104.Connection, message: c104.IncomingMessage, cause: c104.Umc
    ) -> None:
        with lock:
            counts["unexpected"] += 1
        if args.callback == "gridos" and cause not in (c104.Umc.MISMATCHED_TYPE_ID, c104.Umc.UNKNOWN_IOA):
            return
        message.first()
        while message.next():
            _ = (message.io_address, message.info.value)
            with lock:
                counts["walked"] += 1

    def on_new_point(
        client: c104.Client, station: c104.Station, io_address: int, point_type: c104.Type
    ) -> None:
        """Not added, as in GridOS: c104 then reports UNKNOWN_IOA."""

    conn.on_unexpected_message(on_unexpected_message)
    client.on_new_point(on_new_point)
    client.start()
    deadline = time.monotonic() + 10
    while conn.state not in (c104.ConnectionState.OPEN_MUTED, c104.ConnectionState.OPEN):
        if time.monotonic() > deadline:
            raise SystemExit("no connection to the outstation")
        time.sleep(0.02)
    conn.unmute()
    interrogations = 0
    end = time.monotonic() + args.seconds
    while time.monotonic() < end:
        conn.interrogation(common_address=7, wait_for_response=False)
        interrogations += 1
        time.sleep(0.02)
    client.stop()
    outstation.kill()
    print(f"{vars(args)}: survived {args.seconds:g} s, {interrogations} GIs, {counts}", flush=True)


if __name__ == "__main__":
    main()
