#!/usr/bin/env python3
"""Runs scripts/bench-nexmark's rows and prints the table (see that script for what and why).

Environment: NX_RFY (rfy binary), NX_FLINK_CMD (JSON list: java ... rfy.bench.FlinkNexmarkBench), NX_EVENTS_FILE,
NX_EVENTS (count), NX_QUERIES (space-separated), NX_PARALLELISM (space-separated), NX_RUNS, NX_TIMEOUT (s per rfy
run; the Flink JVM gets it per job), NX_RESULTS (report file).

What is measured, the same way for both systems, with start-up OUTSIDE the figures for both:
- job s: the job's duration as its JobManager reports it (rfy: `rfy run`'s "FINISHED in X s"; Flink: the
  JobExecutionResult's net runtime). Cluster start-up (rfy's embedded local cluster; Flink's JVM, MiniCluster
  and SQL planning) is before it.
- CPU s: CPU time (user + sys, all threads) of the process running the job, from the job's submission to its end:
  rfy's process from its "submitted" line to its exit (/proc/PID/stat, then wait4's rusage; the local cluster's
  TaskManagers are threads of it); Flink's JVM from its job's submission to its result (getProcessCpuTime).
- RSS MB: peak resident memory of that process (rfy: the process's peak; Flink: peak sampled during the job, the
  JVM's heap and MiniCluster included).
Flink runs all queries in one JVM (FlinkNexmarkBench), so its JIT is warm after the first job; rfy is compiled
ahead of time and starts one process per job.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time

TICKS = os.sysconf("SC_CLK_TCK")
STATELESS = ("q0", "q1", "q2")
TARGET_STATELESS = 2_000_000  # rfy ev/s per core, q0-q2
TARGET_STATEFUL = 3.0  # rfy/Flink per core, other queries
TARGET_SCALING = 1.7  # rfy -p2/-p1 ev/s


def proc_cpu(pid):
    """CPU seconds (user + sys, all threads) of a live process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def run_rfy(cmd, timeout):
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                         errors="replace")
    lines, at_submit = [], []

    def read(stream):
        for line in stream:
            lines.append(line.rstrip("\n"))
            if "submitted to the local cluster" in line and not at_submit:
                try:
                    at_submit.append(proc_cpu(p.pid))
                except OSError:
                    pass

    readers = [threading.Thread(target=read, args=(s,), daemon=True) for s in (p.stdout, p.stderr)]
    for t in readers:
        t.start()
    timer = threading.Timer(timeout, p.kill)
    timer.start()
    _, status, usage = os.wait4(p.pid, 0)
    timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    for t in readers:
        t.join()
    wall = time.monotonic() - start
    if p.returncode != 0:
        bad = [l for l in lines if "error" in l.lower()] or lines[-1:] or [f"exit {p.returncode}"]
        return {"ok": False, "why": (f"timeout after {timeout} s" if wall >= timeout else bad[0])[:160]}
    job = next((float(m.group(1)) for l in lines for m in [re.search(r"FINISHED in ([\d.]+) s", l)] if m), None)
    if job is None or not at_submit:
        return {"ok": False, "why": "no 'submitted' or 'FINISHED in X s' line in rfy's output"}
    cpu = usage.ru_utime + usage.ru_stime - at_submit[0]
    return {"ok": True, "job": job, "cpu": cpu, "rss": usage.ru_maxrss / 1024}


def run_flink(cmd, events_file, queries, pars, timeout):
    """One JVM for every (query, p): {(q, p): result}."""
    full = cmd + ["--events", events_file, "--queries", ",".join(queries), "--parallelisms",
                  ",".join(str(p) for p in pars)]
    out = {}
    try:
        r = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                           errors="replace", timeout=timeout * len(queries) * len(pars))
    except subprocess.TimeoutExpired as e:
        r = e
        r.returncode = "timeout"
    text = r.stdout if isinstance(r.stdout, str) else (r.stdout or b"").decode(errors="replace")
    for m in re.finditer(r"nexmark-bench flink (\S+) (\d+) job=([\d.]+) cpu=([\d.]+) rss_mb=([\d.]+)", text):
        out[(m.group(1), int(m.group(2)))] = {"ok": True, "job": float(m.group(3)), "cpu": float(m.group(4)),
                                             "rss": float(m.group(5))}
    if r.returncode != 0:
        err = r.stderr if isinstance(r.stderr, str) else (r.stderr or b"").decode(errors="replace")
        lines = [l for l in err.splitlines() if l.strip() and not l.lstrip().startswith("at ")]
        why = f"Flink exit {r.returncode}: " + (lines[-1] if lines else "")
        for q in queries:
            for p in pars:
                out.setdefault((q, p), {"ok": False, "why": why[:160]})
    return out


def median_of(res):
    ok = [r for r in res if r["ok"]]
    if not ok:
        return {"failed": res[0]["why"]}
    med = lambda k: statistics.median(r[k] for r in ok)
    return {"job": med("job"), "cpu": med("cpu"), "rss": max(r["rss"] for r in ok)}


def main():
    rfy = os.environ["NX_RFY"]
    flink = json.loads(os.environ["NX_FLINK_CMD"]) if os.environ.get("NX_FLINK_CMD") else None
    events_file = os.environ["NX_EVENTS_FILE"]
    events = int(os.environ["NX_EVENTS"])
    queries = os.environ["NX_QUERIES"].split()
    pars = [int(p) for p in os.environ["NX_PARALLELISM"].split()]
    runs = int(os.environ.get("NX_RUNS", "1"))
    timeout = int(os.environ.get("NX_TIMEOUT", "600"))
    started = time.monotonic()
    out = []

    def say(s=""):
        print(s, flush=True)
        out.append(s)

    results = {}
    for q in queries:
        for p in pars:
            cmd = [rfy, "run", "-p", str(p), "nexmark", "--query", q, "--input", events_file, "--discard"]
            r = median_of([run_rfy(cmd, timeout) for _ in range(runs)])
            results[(q, p, "rfy")] = r
            print(f"  {q} -p{p} rfy: {r}", flush=True)
    rfy_seconds = time.monotonic() - started
    if flink:
        flink_runs = [run_flink(flink, events_file, queries, pars, timeout) for _ in range(runs)]
        for q in queries:
            for p in pars:
                r = median_of([fr[(q, p)] for fr in flink_runs if (q, p) in fr] or [{"ok": False, "why": "no row"}])
                results[(q, p, "flink")] = r
                print(f"  {q} -p{p} flink: {r}", flush=True)

    say(f"Nexmark, {events:,} events from {events_file} (same file for both), {runs} run(s) per row (median), "
        f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; took {time.monotonic() - started:.0f} s "
        f"(rfy {rfy_seconds:.0f} s)")
    say("job s and CPU s from the job's submission to its end (start-up outside, both systems); "
        "ev/s = events / job s; ev/s/core = events / CPU s")
    say(f"{'query':<5} {'p':>2} {'system':<6} {'job s':>7} {'CPU s':>7} {'ev/s':>11} {'ev/s/core':>11} {'RSS MB':>7}")
    for q in queries:
        for p in pars:
            for system in ("rfy", "flink"):
                r = results.get((q, p, system))
                if r is None:
                    continue
                if "failed" in r:
                    say(f"{q:<5} {p:>2} {system:<6} failed: {r['failed']}")
                    continue
                say(f"{q:<5} {p:>2} {system:<6} {r['job']:7.2f} {r['cpu']:7.2f} {events / r['job']:11,.0f} "
                    f"{events / max(r['cpu'], 1e-3):11,.0f} {r['rss']:7.0f}")
    say()
    say(f"targets: q0-q2 rfy >= {TARGET_STATELESS:,} ev/s/core; other queries rfy/Flink per core >= "
        f"{TARGET_STATEFUL}x; rfy -p2/-p1 ev/s >= {TARGET_SCALING}x")
    say(f"{'query':<5} " + "  ".join(f"{'rfy/Flink -p' + str(p) + ' (ev/s, per core)':<32}" for p in pars)
        + f"  {'rfy p2/p1':>9}  {'Flink p2/p1':>11}  verdict")
    for q in queries:
        parts, verdict = [f"{q:<5}"], []
        for p in pars:
            a, b = results.get((q, p, "rfy"), {}), results.get((q, p, "flink"), {})
            if "job" in a and "job" in b:
                per_core = b["cpu"] / max(a["cpu"], 1e-3)
                parts.append(f"{b['job'] / a['job']:7.2f}x {per_core:7.2f}x/core{'':<14}")
                if q not in STATELESS:
                    verdict.append(f"-p{p} per core {'ok' if per_core >= TARGET_STATEFUL else 'MISSED'}")
            else:
                parts.append(f"{'-':<32}")
            if q in STATELESS and "cpu" in a:
                verdict.append(f"-p{p} {events / max(a['cpu'], 1e-3) / 1e6:.2f} M ev/s/core "
                               f"{'ok' if events / max(a['cpu'], 1e-3) >= TARGET_STATELESS else 'MISSED'}")
        for system in ("rfy", "flink"):
            a, b = results.get((q, 1, system), {}), results.get((q, 2, system), {})
            if "job" in a and "job" in b:
                scale = a["job"] / b["job"]
                parts.append(f"{scale:9.2f}x" if system == "rfy" else f"{scale:11.2f}x")
                if system == "rfy":
                    verdict.append(f"scaling {'ok' if scale >= TARGET_SCALING else 'MISSED'}")
            else:
                parts.append(f"{'-':>9}" if system == "rfy" else f"{'-':>11}")
        say("  ".join(parts) + "  " + ", ".join(verdict))
    with open(os.environ["NX_RESULTS"], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
