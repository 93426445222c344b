# Issue 23 load reproduction against a LOCAL server only (127.0.0.1); bounded in count and time.
# Used for the measurements in docs/reliability.md ("Connections, bodies and long-polls under load").
# 100 unauthenticated POST /token declaring 2,000,000-byte bodies, 1,900,000 bytes of each sent, held;
# prints the server's VmRSS before, 3 s into the hold, and how many got a reply.
import socket, sys, time
host, port, pid = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith(("VmRSS", "VmHWM")): print(l.strip(), end="  ")
    print()
rss()
conns = []
for _ in range(100):
    s = socket.create_connection((host, port))
    s.sendall(b"POST /api/local-sync/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2000000\r\n\r\n")
    try: s.sendall(b"a" * 1900000)
    except OSError: pass
    s.settimeout(0.5); conns.append(s)
time.sleep(3); rss()
replied = 0
for s in conns:
    try:
        if s.recv(12).startswith(b"HTTP/1.1 413"): replied += 1
    except OSError: pass
print("413 replies:", replied, "of", len(conns))
