# Issue 23 load reproduction against a LOCAL server only (127.0.0.1); bounded in count and time.
# Used for the measurements in docs/reliability.md ("Connections, bodies and long-polls under load").
# N idle connections (nothing sent) held for SECS s; then a real GET /api/local-sync/status
# from 127.0.0.2; how the idle ones ended (closed by the server, reset, still open); VmRSS.
import socket, sys, time
host, port, pid, n, secs, token = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
def mem():
    return " ".join(l.split()[0] + l.split()[1] for l in open(f"/proc/{pid}/status") if l.startswith(("VmRSS", "VmHWM")))
print("idle:", mem())
conns = []
for _ in range(n):
    try:
        s = socket.create_connection((host, port), timeout=5); s.setblocking(False); conns.append(s)
    except OSError: pass
time.sleep(2)
def status(src):
    try:
        s = socket.create_connection((host, port), timeout=10, source_address=(src, 0))
        s.settimeout(10)
        s.sendall(f"GET /api/local-sync/status HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
        return s.recv(12).decode(errors="replace") or "closed"
    except OSError as e:
        return f"failed: {e}"
print("held:", len(conns), mem(), "; /status from 127.0.0.2:", repr(status("127.0.0.2")), "; from 127.0.0.1:", repr(status("127.0.0.1")))
end = time.time() + secs; state = {}
while time.time() < end:
    for i, s in enumerate(conns):
        if i in state: continue
        try:
            if s.recv(4096) == b"": state[i] = "closed"
        except BlockingIOError: pass
        except ConnectionResetError: state[i] = "reset"
        except OSError: state[i] = "closed"
    time.sleep(0.2)
vals = list(state.values())
print(f"after {secs:.0f} s: closed {vals.count('closed')}, reset {vals.count('reset')}, still open {len(conns)-len(vals)}; {mem()}")
