# Issue 23 load reproduction against a LOCAL server only (127.0.0.1); bounded in count and time.
# Used for the measurements in docs/reliability.md ("Connections, bodies and long-polls under load").
# N connections that send a request line, then one header byte every 0.5 s, never ending their
# headers; after SECS seconds: how many the server closed, its VmRSS/VmHWM, and whether a real
# GET /api/local-sync/status (bearer TOKEN) answered meanwhile.
import socket, sys, time
host, port, pid, n, secs, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
def mem():
    return " ".join(l.split()[0] + l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith(("VmRSS", "VmHWM")))
def status():
    try:
        s = socket.create_connection((host, port), timeout=10)
        s.sendall(f"GET /api/local-sync/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
        return s.recv(12).decode(errors="replace")
    except OSError as e:
        return f"failed: {e}"
print("idle:", mem())
conns = []
for _ in range(n):
    try:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "); s.setblocking(False); conns.append(s)
    except OSError: pass
print("connected:", len(conns), "of", n)
closed = set(); start = time.time(); real = None
while time.time() - start < secs:
    for i, s in enumerate(conns):
        if i in closed: continue
        try:
            s.send(b"a")
            if s.recv(4096) == b"": closed.add(i)
        except BlockingIOError: pass
        except OSError: closed.add(i)
    if real is None and time.time() - start > 1: real = status()
    time.sleep(0.5)
print(f"after {secs:.0f} s: {len(closed)} of {len(conns)} closed by the server; real /status during: {real!r}; {mem()}")
