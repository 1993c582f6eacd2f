#!/usr/bin/env python3
"""Runs the word-count benchmark rows round-robin and prints the table.

Called by scripts/bench-wordcount, which builds everything and prepares the input; see there for
the options. Reads its settings from environment variables set by that script:

  BENCH_INPUT        the input file
  BENCH_BYTES        its size in bytes
  BENCH_WORDS        its number of words (what every tool must report)
  BENCH_LINES        its number of lines (rfy's summary reports lines read)
  BENCH_RUNS         runs per row (>= 1)
  BENCH_TIMEOUT      seconds before one run is killed
  BENCH_ROWS_JSON    JSON list of rows: {"name", "cmd": [...]} or {"name", "failed": "<why>"}
  BENCH_RESULTS      file to copy the printed report to (optional)
"""

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

TARGET_VS_FLINK = 5.0  # rfy words/s >= 5x Flink's, at -p 1 and -p 2
TARGET_VS_ROOFLINE = 0.5  # rfy -p 1 words/s >= 50 % of the one-core roofline
TARGET_SDK_VS_BUILTIN = 0.9  # the SDK example as fast as the built-in word count, within noise
TARGET_SCALING = 1.7  # -p 2 words/s >= 1.7x -p 1 on two cores (issue 9)

# A tool's own word total: "words=123", "words: 1,234", "words 123" (rfy's summary format is
# not fixed yet, so be lenient).
WORDS_RE = re.compile(r"(?i)\bwords\b\s*[=:]?\s*([0-9][0-9,_]*)")
# rfy's job summary: "... FINISHED in 1.80 s: sources read 1430692 records ..." (records = lines).
LINES_RE = re.compile(r"(?i)sources read ([0-9][0-9,_]*) records")


def first_error_line(text):
    """The line that best says why a command failed."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    lines = [l for l in lines if not l.startswith("SLF4J:")]
    for l in lines:
        if re.match(r"(?i)^(error|exception|caused by|thread .* panicked|fatal)", l):
            return l
    for l in lines:
        if re.search(r"(?i)(error|exception|panicked)", l):
            return l
    return lines[0] if lines else "(no output)"


def run_once(cmd, timeout):
    """Runs cmd under /usr/bin/time -v; returns dict(wall, rss_kib, out, err, ok, why)."""
    with tempfile.NamedTemporaryFile("r", prefix="bench-time-", suffix=".txt") as tf:
        full = ["/usr/bin/time", "-v", "-o", tf.name] + cmd
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            return {"ok": False, "why": str(e)}
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.communicate()
            return {"ok": False, "why": f"timed out after {timeout:g} s"}
        wall = time.perf_counter() - t0
        out = out.decode("utf-8", "replace")
        err = err.decode("utf-8", "replace")
        timing = tf.read()
    rss = None
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing)
    if m:
        rss = int(m.group(1))
    cpu = None
    u = re.search(r"User time \(seconds\): ([0-9.]+)", timing)
    k = re.search(r"System time \(seconds\): ([0-9.]+)", timing)
    if u and k:
        cpu = float(u.group(1)) + float(k.group(1))
    status = re.search(r"Exit status: (\d+)", timing)
    code = p.returncode
    if status:
        code = int(status.group(1))
    if code != 0 or p.returncode != 0 or "Command terminated by signal" in timing:
        why = first_error_line(err + "\n" + out)
        if "Command terminated by signal" in timing:
            why = timing.splitlines()[0].strip() + ": " + why
        return {"ok": False, "why": f"{why} (exit {code})"}
    m = None
    for m in WORDS_RE.finditer(out + "\n" + err):
        pass
    words = int(m.group(1).replace(",", "").replace("_", "")) if m else None
    m = LINES_RE.search(out + "\n" + err)
    lines = int(m.group(1).replace(",", "").replace("_", "")) if m else None
    return {"ok": True, "wall": wall, "cpu": cpu, "rss_kib": rss, "out": out, "err": err, "words": words,
            "lines": lines}


def fmt_load(la):
    return "/".join(f"{x:.2f}" for x in la)


def fmt_int(n):
    return f"{n:,}"


def main():
    path = os.environ["BENCH_INPUT"]
    nbytes = int(os.environ["BENCH_BYTES"])
    nwords = int(os.environ["BENCH_WORDS"])
    nlines = int(os.environ.get("BENCH_LINES", "0"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    timeout = float(os.environ.get("BENCH_TIMEOUT", "900"))
    rows = json.loads(os.environ["BENCH_ROWS_JSON"])
    results_file = os.environ.get("BENCH_RESULTS")

    state = {}
    for r in rows:
        state[r["name"]] = {"walls": [], "cpus": [], "rss": [], "words": set(), "lines": set(), "failed": r.get("failed"),
                            "summary": None}

    load_before = fmt_load(os.getloadavg())
    print(f"input: {path}: {fmt_int(nbytes)} bytes, {fmt_int(nwords)} words; "
          f"{runs} run(s) per row, rows interleaved", flush=True)
    for i in range(runs):
        for r in rows:
            st = state[r["name"]]
            if st["failed"]:
                continue
            res = run_once(r["cmd"], timeout)
            if not res["ok"]:
                st["failed"] = res["why"]
                print(f"  run {i + 1}/{runs} {r['name']:<10} failed: {res['why']}", flush=True)
                continue
            st["walls"].append(res["wall"])
            if res["cpu"] is not None:
                st["cpus"].append(res["cpu"])
            if res["rss_kib"] is not None:
                st["rss"].append(res["rss_kib"])
            if res["words"] is not None:
                st["words"].add(res["words"])
            if res["lines"] is not None:
                st["lines"].add(res["lines"])
            lines = [l for l in res["out"].splitlines() if l.strip()]
            if not lines:  # rfy prints its job summary to stderr
                lines = [l for l in res["err"].splitlines() if l.strip()]
            if lines:
                st["summary"] = lines[-1].strip()
            rss = f"{res['rss_kib'] / 1024:.0f} MiB" if res["rss_kib"] is not None else "?"
            cpu = f"{res['cpu']:.2f}" if res["cpu"] is not None else "?"
            print(f"  run {i + 1}/{runs} {r['name']:<10} {res['wall']:8.2f} s wall  {cpu:>6} s CPU  {rss}",
                  flush=True)

    report = []
    say = report.append
    say("")
    say(f"Word count, {fmt_int(nbytes)} bytes / {fmt_int(nwords)} words, discarding sink, "
        f"median of {runs} run(s)")
    say("(wall s: median; min s: fastest run; CPU s: median user+sys of the process tree;")
    say(" MB = 10^6 bytes; peak RSS: GNU time's maximum resident set size of the largest process, "
        "max over runs;")
    say(f" load average 1/5/15 min: before {load_before}, after {fmt_load(os.getloadavg())}; "
        f"{os.cpu_count()} CPUs)")
    hdr = (f"{'row':<10} {'wall s':>8} {'min s':>8} {'CPU s':>7} {'MB/s':>8} {'Mwords/s':>9} "
           f"{'words/s':>12} {'peak RSS MiB':>13}  words")
    say(hdr)
    say("-" * len(hdr))
    wps = {}
    for r in rows:
        name = r["name"]
        st = state[name]
        if st["failed"]:
            say(f"{name:<10} failed: {st['failed']}")
            continue
        med = statistics.median(st["walls"])
        mn = min(st["walls"])
        wps[name] = nwords / med
        rss = f"{max(st['rss']) / 1024:.0f}" if st["rss"] else "?"
        if not st["words"]:
            if not st["lines"]:
                check = "not reported"
            elif sorted(st["lines"]) == [nlines]:
                check = "n/a (lines ok)"
            else:
                check = "n/a (lines MISMATCH)"
        elif sorted(st["words"]) == [nwords]:
            check = "ok"
        else:
            check = "MISMATCH"
        cpu = f"{statistics.median(st['cpus']):.2f}" if st["cpus"] else "?"
        say(f"{name:<10} {med:8.2f} {mn:8.2f} {cpu:>7} {nbytes / med / 1e6:8.1f} "
            f"{nwords / med / 1e6:9.2f} {nwords / med:12,.0f} {rss:>13}  {check}")

    say("")
    say("Ratios of words/s (median wall); the CPU-time ratio beside them is for information")
    say(f"{'':<32} {'value':>8}   {'target':<7}  {'':<8} {'by CPU s':>8}")

    def cpu_ratio(a, b, pct):
        ca, cb = state[a]["cpus"], state[b]["cpus"]
        if not ca or not cb:
            return ""
        v = statistics.median(cb) / statistics.median(ca)
        return f"{v * 100:6.1f} %" if pct else f"{v:6.2f} x"

    def ratio(label, a, b, target, pct=False):
        if a in wps and b in wps:
            v = wps[a] / wps[b]
            ok = "met" if v >= target else "NOT met"
            if pct:
                say(f"{label:<32} {v * 100:6.1f} %   >= {target * 100:.0f} %  {ok:<8} "
                    f"{cpu_ratio(a, b, pct):>8}")
            else:
                say(f"{label:<32} {v:6.2f} x   >= {target:g} x   {ok:<8} {cpu_ratio(a, b, pct):>8}")
        else:
            missing = ", ".join(n for n in (a, b) if n not in wps)
            say(f"{label:<32}      n/a   ({missing} did not run)")

    ratio("rfy -p1 / flink -p1", "rfy -p1", "flink -p1", TARGET_VS_FLINK)
    ratio("rfy -p2 / flink -p2", "rfy -p2", "flink -p2", TARGET_VS_FLINK)
    ratio("rfy -p1 / roofline", "rfy -p1", "roofline", TARGET_VS_ROOFLINE, pct=True)
    ratio("sdk -p1 / rfy -p1", "sdk -p1", "rfy -p1", TARGET_SDK_VS_BUILTIN)
    ratio("sdk -p2 / rfy -p2", "sdk -p2", "rfy -p2", TARGET_SDK_VS_BUILTIN)
    ratio("rfy -p2 / rfy -p1", "rfy -p2", "rfy -p1", TARGET_SCALING)
    if "final -p1" in state:
        ratio("final -p2 / final -p1", "final -p2", "final -p1", TARGET_SCALING)

    say("")
    say(f"Word totals reported (expected {fmt_int(nwords)})")
    for r in rows:
        name = r["name"]
        st = state[name]
        if st["failed"]:
            say(f"{name:<10} -")
        elif not st["words"]:
            if st["lines"]:
                ls = sorted(st["lines"])
                verdict = "ok" if ls == [nlines] else "MISMATCH"
                say(f"{name:<10} none reported; lines read {', '.join(fmt_int(n) for n in ls)} "
                    f"(expected {fmt_int(nlines)}) {verdict}")
            else:
                say(f"{name:<10} none reported")
        else:
            ws = sorted(st["words"])
            verdict = "ok" if ws == [nwords] else "MISMATCH"
            say(f"{name:<10} {', '.join(fmt_int(w) for w in ws)}  {verdict}")

    say("")
    say("Last output line of each row (stdout, else stderr)")
    for r in rows:
        st = state[r["name"]]
        if not st["failed"]:
            say(f"{r['name']:<10} {st['summary'] or '(no output)'}")

    text = "\n".join(report)
    print(text, flush=True)
    if results_file:
        with open(results_file, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
