#!/usr/bin/env python3
"""Battery dispatch by dynamic programming: an example RunForge program kind (standard library only).

The protocol (apps/engine-worker/src/programs/README.md): the job's input arrives as JSON on stdin,
{"params": {...}}; progress, logs and the result are stdout lines; failing is exiting non-zero.

The battery has `socSteps + 1` charge levels from empty to `capacityMWh`. Each hour it may move
as many levels as `powerMW` allows: charging buys energy at the hour's price, discharging sells
it, and the round-trip `efficiency` is lost half on the way in, half on the way out. Working back
from the last hour, value[s] is the best revenue from level s onwards; the schedule then follows
the best move from an empty battery forwards.
"""
import json
import math
import random
import sys
import time


def say(line):
    print(line, flush=True)


def prices_of(params):
    if "prices" in params:
        return [float(p) for p in params["prices"]]
    hours, seed = int(params.get("hours", 24)), int(params.get("seed", 0))
    say(f"INFO: no prices given: {hours} synthetic hours from seed {seed}")
    rng = random.Random(seed)  # seeded: the same params give the same run
    # Cheap at night, dear in the evening, plus noise.
    return [round(50 + 30 * math.sin(2 * math.pi * (h % 24 - 9) / 24) + rng.gauss(0, 8), 2) for h in range(hours)]


def main():
    params = json.load(sys.stdin).get("params", {})
    prices = prices_of(params)
    capacity = float(params.get("capacityMWh", 10))
    power = float(params.get("powerMW", 5))
    efficiency = float(params.get("efficiency", 0.9))
    steps = int(params.get("socSteps", 20))
    pause = float(params.get("sleepSeconds", 0))

    level = capacity / steps  # MWh per charge level
    reach = int(power / level + 1e-9)  # levels per hour
    if reach == 0:
        say(f"WARNING: powerMW {power} moves less than one charge level ({level} MWh) an hour: the battery stays idle")
    one_way = math.sqrt(efficiency)

    def cash(price, move):
        energy = move * level
        return -price * energy / one_way if move > 0 else -price * energy * one_way

    hours = len(prices)
    say(f"INFO: {hours} hours, {steps + 1} charge levels, up to {reach} levels an hour")
    value = [0.0] * (steps + 1)
    best_moves = [None] * hours
    for t in reversed(range(hours)):
        if params.get("fail") and t < hours / 2:
            raise RuntimeError(f"failing on purpose at hour {t} (params.fail)")
        moves, next_value = [], []
        for s in range(steps + 1):
            v, m = max((cash(prices[t], m) + value[s + m], m) for m in range(-min(reach, s), min(reach, steps - s) + 1))
            next_value.append(v)
            moves.append(m)
        value, best_moves[t] = next_value, moves
        say(f"PROGRESS:{100 * (hours - t) // hours}")
        time.sleep(pause)

    schedule, s = [], 0
    for t, price in enumerate(prices):
        move = best_moves[t][s]
        s += move
        action = "charge" if move > 0 else "discharge" if move < 0 else "idle"
        schedule.append({"hour": t, "price": price, "action": action, "socMWh": round(s * level, 3)})
    if value[0] <= 0:
        say("WARNING: no price spread covers the losses: the battery stays idle")
    say("RESULT:" + json.dumps({"revenue": round(value[0], 2), "schedule": schedule}))


if __name__ == "__main__":
    main()
