#!/usr/bin/env python3
"""Runs scripts/bench-nexmark's rows and prints the table (see that script for what and why).

Environment: NX_RFY (rfy binary), NX_FLINK_CMD (JSON list: java ... rfy.bench.FlinkNexmark), NX_EVENTS_FILE,
NX_EVENTS (count), NX_QUERIES (space-separated), NX_PARALLELISM (space-separated), NX_RUNS, NX_TIMEOUT,
NX_RESULTS (report file).

Per run: wall time and peak RSS from GNU time (-v), CPU = user + sys of the whole process tree (the kernel's
accounting of the process and its waited-for children, as /proc/PID/stat's utime+stime+cutime+cstime).
Job seconds: what the system reports for the job itself (rfy: "FINISHED in X s"; Flink: FlinkNexmark's time from
submitting the query to its end), so JVM start-up and SQL planning are outside the events/s figures.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time


def run_once(cmd, timeout):
    full = ["/usr/bin/time", "-v"] + cmd
    start = time.monotonic()
    try:
        p = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                           timeout=timeout, text=True, errors="replace")
    except subprocess.TimeoutExpired:
        return {"ok": False, "why": f"timeout after {timeout} s"}
    wall = time.monotonic() - start
    err = p.stderr
    if p.returncode != 0:
        lines = [l for l in err.splitlines() if l.strip() and not l.startswith("\t") and "Command being timed" not in l]
        return {"ok": False, "why": (lines[0] if lines else f"exit {p.returncode}")[:160]}
    u = re.search(r"User time \(seconds\): ([\d.]+)", err)
    k = re.search(r"System time \(seconds\): ([\d.]+)", err)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", err)
    job = re.search(r"FINISHED in ([\d.]+) s", err + p.stdout) or re.search(r"flink q\d+ -p \d+: ([\d.]+) s", err)
    return {"ok": True, "wall": wall, "cpu": float(u.group(1)) + float(k.group(1)), "rss_mb": int(rss.group(1)) / 1024,
            "job": float(job.group(1)) if job else wall}


def main():
    rfy = os.environ["NX_RFY"]
    flink = json.loads(os.environ["NX_FLINK_CMD"]) if os.environ.get("NX_FLINK_CMD") else None
    events_file = os.environ["NX_EVENTS_FILE"]
    events = int(os.environ["NX_EVENTS"])
    queries = os.environ["NX_QUERIES"].split()
    pars = [int(p) for p in os.environ["NX_PARALLELISM"].split()]
    runs = int(os.environ.get("NX_RUNS", "1"))
    timeout = int(os.environ.get("NX_TIMEOUT", "600"))
    out = []

    def say(s=""):
        print(s, flush=True)
        out.append(s)

    results = {}
    for q in queries:
        for p in pars:
            rows = [("rfy", [rfy, "run", "-p", str(p), "nexmark", "--query", q, "--input", events_file, "--discard"])]
            if flink:
                rows.append(("flink", flink + ["--events", events_file, "--query", q, "--parallelism", str(p),
                                               "--discard"]))
            for system, cmd in rows:
                res = [run_once(cmd, timeout) for _ in range(runs)]
                ok = [r for r in res if r["ok"]]
                if not ok:
                    results[(q, p, system)] = {"failed": res[0]["why"]}
                    print(f"  {q} -p{p} {system}: failed: {res[0]['why']}", flush=True)
                    continue
                med = lambda k: statistics.median(r[k] for r in ok)
                r = {"wall": med("wall"), "cpu": med("cpu"), "rss": max(r["rss_mb"] for r in ok), "job": med("job")}
                results[(q, p, system)] = r
                print(f"  {q} -p{p} {system}: job {r['job']:.2f} s, wall {r['wall']:.2f} s, CPU {r['cpu']:.2f} s, "
                      f"RSS {r['rss']:.0f} MB", flush=True)

    say(f"Nexmark, {events:,} events from {events_file} (same file for both), {runs} run(s) per row (median), "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    say("ev/s = events / job seconds; ev/s/core = events / CPU seconds of the whole process (start-up included)")
    say(f"{'query':<5} {'p':>2} {'system':<6} {'job s':>7} {'wall s':>7} {'CPU s':>7} {'ev/s':>10} {'ev/s/core':>10} "
        f"{'RSS MB':>7}")
    for q in queries:
        for p in pars:
            for system in ("rfy", "flink"):
                r = results.get((q, p, system))
                if r is None:
                    continue
                if "failed" in r:
                    say(f"{q:<5} {p:>2} {system:<6} failed: {r['failed']}")
                    continue
                say(f"{q:<5} {p:>2} {system:<6} {r['job']:7.2f} {r['wall']:7.2f} {r['cpu']:7.2f} "
                    f"{events / r['job']:10,.0f} {events / r['cpu']:10,.0f} {r['rss']:7.0f}")
    say()
    say("ratios rfy/Flink (ev/s, ev/s per core); scaling -p2/-p1 (ev/s)")
    for q in queries:
        parts = [f"{q:<5}"]
        for p in pars:
            a, b = results.get((q, p, "rfy"), {}), results.get((q, p, "flink"), {})
            if "job" in a and "job" in b:
                parts.append(f"-p{p}: {b['job'] / a['job']:6.2f}x {b['cpu'] / a['cpu']:6.2f}x/core")
        for system in ("rfy", "flink"):
            a, b = results.get((q, 1, system), {}), results.get((q, 2, system), {})
            if "job" in a and "job" in b:
                parts.append(f"{system} p2/p1 {a['job'] / b['job']:.2f}x")
        say("  ".join(parts))
    with open(os.environ["NX_RESULTS"], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
