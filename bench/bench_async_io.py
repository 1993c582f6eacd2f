"""The async I/O benchmark behind scripts/bench-async-io (see there)."""

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK = "--quick" in sys.argv
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
RELEASE = os.path.join(TARGET, "release", "rfy")
RFY = os.environ.get("RFY_BIN", RELEASE if os.path.exists(RELEASE) else os.path.join(TARGET, "debug", "rfy"))
DELAY_MS = float(os.environ.get("DELAY_MS", "10"))
BLOCKING_KEYS = int(os.environ.get("BLOCKING_KEYS", "300" if QUICK else "1000"))
ASYNC_KEYS = int(os.environ.get("ASYNC_KEYS", "5000" if QUICK else "20000"))
REQUESTS = [0]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


async def handle(reader, writer):
    """HTTP/1.1 keep-alive: answers `GET /lookup/KEY` with `name-KEY` after DELAY_MS."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            REQUESTS[0] += 1
            await asyncio.sleep(DELAY_MS / 1000)
            body = ("name-" + path.rsplit("/", 1)[-1]).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


def start_server():
    """The lookup service on a free loopback port, on its own event loop thread."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port = [0]

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port[0] = server.sockets[0].getsockname()[1]
        ready.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True).start()
    ready.wait(10)
    return port[0]


def run(port, keys_file, n, mode, capacity):
    cmd = [RFY, "run", "-p", "1", "async-lookup", "--input", keys_file, "--discard",
           "--url", f"http://127.0.0.1:{port}/lookup", "--mode", mode, "--capacity", str(capacity), "--attempts", "1"]
    before = REQUESTS[0]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"rfy failed ({' '.join(cmd)}): {p.stderr[-2000:]}")
    m = re.search(r"FINISHED in ([0-9.]+) s: sources read (\d+) records", p.stderr)
    if not m:
        raise SystemExit(f"no summary line in rfy's output: {p.stderr[-2000:]}")
    secs, read = float(m.group(1)), int(m.group(2))
    served = REQUESTS[0] - before
    if read != n or served != n:
        raise SystemExit(f"{mode}: read {read} keys, service answered {served}, expected {n}")
    return secs


def main():
    if not os.path.exists(RFY):
        raise SystemExit(f"no rfy binary at {RFY}: cargo build [--release] -p rfy-client, or set RFY_BIN")
    port = start_server()
    log(f"lookup service on 127.0.0.1:{port}, {DELAY_MS:g} ms per answer; rfy: {RFY}")
    rows = [("blocking (keyed process)", "blocking", 1, BLOCKING_KEYS),
            ("async unordered", "unordered", 10, ASYNC_KEYS // 4),
            ("async unordered", "unordered", 100, ASYNC_KEYS),
            ("async ordered", "ordered", 100, ASYNC_KEYS)]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, mode, cap, n in rows:
            keys = os.path.join(tmp, f"keys{n}.txt")
            if not os.path.exists(keys):
                with open(keys, "w") as f:
                    f.writelines(f"k{i}\n" for i in range(n))
            secs = run(port, keys, n, mode, cap)
            log(f"  {label} capacity {cap}: {n} lookups in {secs:.2f} s")
            results.append((label, cap, n, secs, n / secs))
    base = results[0][4]
    print(f"async I/O vs blocking lookups, {DELAY_MS:g} ms per lookup, -p 1 ({os.path.basename(os.path.dirname(RFY))} build)")
    print(f"{'mode':<26} {'capacity':>8} {'lookups':>8} {'seconds':>8} {'lookups/s':>10} {'vs blocking':>12}")
    for label, cap, n, secs, rate in results:
        print(f"{label:<26} {cap:>8} {n:>8} {secs:>8.2f} {rate:>10.0f} {rate / base:>11.1f}x")


if __name__ == "__main__":
    main()
