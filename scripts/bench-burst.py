#!/usr/bin/env python3
"""A burst against a first sync of the same tree (issue 22), and the client's memory after each.

  scripts/bench-burst.py [N] [--bin PATH] [--server PATH]     (default N = 5000, release builds)

The tree is N files of 2 KB in 50 folders. First sync: the files (an hour old) are in the folder
when the client starts; timed from the start to the server holding all N. Burst: the same tree
copied (`cp -r`) into the folder of a running, idle client; timed from the copy's start to the
server holding all N. While the burst goes up, the status is sampled: the share of samples that
said "upToDate" before the last file arrived is printed (it must be 0). RSS is read from
/proc/PID/status 5 s after each. Compare the ratio, in one run: the machine is shared.
"""
import json, os, shutil, subprocess, sys, tempfile, time, urllib.parse, urllib.request

args = sys.argv[1:]
def opt(name, default):
    if name in args:
        i = args.index(name); v = args[i + 1]; del args[i:i + 2]; return v
    return default
client_bin = opt("--bin", "target/release/hyperclay-sync")
server_bin = opt("--server", "target/release/hyperclay-server")
n = int(args[0]) if args else 5000
folders = 50

def listing_count(url, token):
    count, cursor = 0, None
    while True:
        q = "?limit=5000" + (f"&cursor={urllib.parse.quote(cursor, safe='')}" if cursor else "")
        req = urllib.request.Request(f"{url}/api/local-sync/changes{q}",
                                     headers={"Authorization": f"Bearer {token}",
                                              # the server refuses other agents (426)
                                              "User-Agent": "hyperclay-sync/0.1.0"})
        page = json.load(urllib.request.urlopen(req, timeout=60))
        count += sum(1 for e in page["entries"] if e["kind"] != "folder" and not e.get("deleted"))
        cursor = page["cursor"]
        if not page["hasMore"]:
            return count

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def status(home):
    try:
        return json.load(open(os.path.join(home, "status.json")))
    except (OSError, ValueError):
        return {}

def make_tree(root, age_s):
    then = time.time() - age_s
    for f in range(folders):
        d = os.path.join(root, f"part-{f}")
        os.makedirs(d)
        for i in range(n // folders):
            p = os.path.join(d, f"f{i}.txt")
            with open(p, "w") as fh:
                fh.write((f"{f}/{i} " * 400)[:2048])
            if age_s:
                os.utime(p, (then, then))

def server(work):
    out = open(os.path.join(work, "server.out"), "w+")
    proc = subprocess.Popen([server_bin, "serve", "--demo", "--listen", "127.0.0.1:0",
                             "--data-dir", os.path.join(work, "server")],
                            stdout=out, stderr=subprocess.DEVNULL)
    for _ in range(400):
        out.seek(0)
        for line in out.read().splitlines():
            if line.startswith("listening on "):
                url = line.split(" ", 2)[2]
                token = subprocess.check_output([server_bin, "token", "demo", "--data-dir",
                                                 os.path.join(work, "server")], text=True).strip()
                return proc, url, token
        time.sleep(0.05)
    raise SystemExit("the server did not come up")

def client(work, url, token, folder):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERCLAY_")}
    env.update(HYPERCLAY_URL=url, HYPERCLAY_TOKEN=token, HYPERCLAY_SYNC_HOME=os.path.join(work, "home"))
    return subprocess.Popen([client_bin, "run", "--headless", "--folder", folder], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

def run(kind):
    work = tempfile.mkdtemp()
    folder = os.path.join(work, "folder"); os.makedirs(folder)
    srv, url, token = server(work)
    home = os.path.join(work, "home")
    try:
        if kind == "first":
            make_tree(folder, 3600)
            start = time.monotonic()
            app = client(work, url, token, folder)
            lies = samples = 0
        else:
            staging = os.path.join(work, "staging"); os.makedirs(staging)
            make_tree(os.path.join(staging, "site"), 3600)
            app = client(work, url, token, folder)
            while status(home).get("state") != "upToDate":
                time.sleep(0.05)
            start = time.monotonic()
            subprocess.check_call(["cp", "-r", os.path.join(staging, "site"), folder])
            lies = samples = 0
        while True:
            there = listing_count(url, token)
            if there >= n:
                break
            if kind == "burst" and there > 0:
                samples += 1
                lies += status(home).get("state") == "upToDate"
            time.sleep(0.1)
        took = time.monotonic() - start
        time.sleep(5)
        rss = rss_kb(app.pid)
        app.terminate(); app.wait()
        return took, rss, lies, samples
    finally:
        srv.terminate(); srv.wait()
        shutil.rmtree(work, ignore_errors=True)

first = run("first")
burst = run("burst")
print(f"{n} files of 2 KB in {folders} folders ({client_bin})")
print(f"first sync: {first[0]:.2f} s, idle RSS after {first[1] / 1024:.1f} MB")
print(f"burst (cp -r into a running client): {burst[0]:.2f} s, idle RSS after {burst[1] / 1024:.1f} MB, "
      f"'upToDate' in {burst[2]} of {burst[3]} samples before the last file arrived")
print(f"burst / first sync: {burst[0] / first[0]:.2f}x")
