#!/usr/bin/env python3
"""What idle long-polling clients cost the server: memory and CPU per 1,000 waiting requests.

Starts the given hyperclay-server on 127.0.0.1 in a fresh temp data dir, opens N connections
(default 1,000) that each wait on `/changes?cursor=C&wait=60`, and reads the server's RSS and
CPU time from /proc before, while they wait, and after one save wakes them all (the worst case:
every waiter on the one account that changed). Everything is on loopback, bounded in time, and
stops by itself; the server exits when this script does.

    python3 scripts/longpoll-cost.py target/release/hyperclay-server [N]
"""

import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HOLD_SECONDS = 30


def proc_stat(pid):
    with open(f"/proc/{pid}/status") as f:
        rss_kb = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    return rss_kb / 1024.0, cpu


def api(base, token, method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    # The server refuses any other agent with 426 client_outdated.
    req.add_header("User-Agent", "hyperclay-sync/0.1.0")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def main():
    server_bin = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 256)), hard))
    data = tempfile.mkdtemp(prefix="longpoll-cost-")
    server = subprocess.Popen(
        [server_bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--demo",
         "--exit-on-stdin-eof"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = server.stdout.readline().strip().split()[-1]
        host, port = urllib.parse.urlparse(base).netloc.split(":")
        token = subprocess.run([server_bin, "token", "demo", "--data-dir", data],
                               capture_output=True, text=True, check=True).stdout.strip()
        cursor = api(base, token, "GET", "/api/local-sync/changes")["cursor"]
        time.sleep(1)
        rss0, cpu0 = proc_stat(server.pid)

        request = (f"GET /api/local-sync/changes?cursor={urllib.parse.quote(cursor)}&wait=60 "
                   f"HTTP/1.1\r\nHost: {host}\r\nUser-Agent: hyperclay-sync/0.1.0\r\n"
                   f"Authorization: Bearer {token}\r\n\r\n").encode()
        socks = []
        for _ in range(n):
            s = socket.create_connection((host, int(port)), timeout=90)
            s.sendall(request)
            socks.append(s)
        time.sleep(2)
        rss1, cpu1 = proc_stat(server.pid)
        time.sleep(HOLD_SECONDS)
        rss2, cpu2 = proc_stat(server.pid)

        started = time.monotonic()
        api(base, token, "PUT", "/api/local-sync/files/wake.txt", b"wake",
            {"X-Modified-At": "2026-01-01T00:00:00.000Z"})
        woken = 0
        for s in socks:
            s.settimeout(30)
            reply = b""
            while b"wake.txt" not in reply:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
            if reply.startswith(b"HTTP/1.1 200 ") and b"wake.txt" in reply:
                woken += 1
        wake_s = time.monotonic() - started
        rss3, cpu3 = proc_stat(server.pid)
        for s in socks:
            s.close()

        per_k = 1000.0 / n
        print(json.dumps({
            "waiting": n,
            "rssIdleMB": round(rss0, 1),
            "rssWaitingMB": round(rss1, 1),
            "rssPer1000MB": round((rss1 - rss0) * per_k, 2),
            "rssAfterHoldMB": round(rss2, 1),
            "rssPer1000AfterHoldMB": round((rss2 - rss0) * per_k, 2),
            "cpuToOpenSecondsPer1000": round((cpu1 - cpu0) * per_k, 3),
            "cpuWhileWaitingPercent": round((cpu2 - cpu1) / HOLD_SECONDS * 100, 3),
            "holdSeconds": HOLD_SECONDS,
            "woken": woken,
            "wakeAllSeconds": round(wake_s, 3),
            "cpuToWakeAllSeconds": round(cpu3 - cpu2, 3),
        }, indent=1))
    finally:
        server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
