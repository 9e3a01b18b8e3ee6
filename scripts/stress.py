"""Stress drivers for a running isartor (loopback only, bounded in time and count).

  stress.py soak GATEWAY_PORT PID MINUTES
      Mixed traffic for MINUTES: exact hits, unique misses, streamed answers, bad requests and
      slow clients (a request head sent a byte at a time). Prints one line a minute: requests by
      kind, unexpected results (errors), the daemon's RSS and open file descriptors.

  stress.py slowloris GATEWAY_PORT PROXY_PORT TUNNEL_PORT PID N HEADER_TIMEOUT
      Opens N connections to each listener that send one header byte a second, then, while they
      are open, times normal requests (a chat request on the gateway; a CONNECT tunnel and a GET
      through the proxy). Prints the latencies and how long the daemon took to close the slow
      connections.

Uses only the standard library: raw HTTP/1.1 over asyncio streams.
"""

import asyncio
import json
import os
import random
import statistics
import sys
import time

HOST = "127.0.0.1"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def http(port, method, path, body=b"", headers=None, timeout=30.0):
    """One request on a fresh connection; returns (status, body bytes)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
    try:
        head = [f"{method} {path} HTTP/1.1", f"host: {HOST}:{port}", "connection: close"]
        head += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body:
            head.append(f"content-length: {len(body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.split(b"\r\n\r\n", 1)[-1]


def chat(prompt, stream=False):
    return json.dumps(
        {"model": "gpt-4o-mini", "stream": stream, "messages": [{"role": "user", "content": prompt}]}
    ).encode()


JSON = {"content-type": "application/json"}


async def soak_worker(port, deadline, stats, worker):
    n = 0
    while time.monotonic() < deadline:
        n += 1
        kind = random.choices(
            ["hit", "miss", "stream", "bad", "slow"], weights=[40, 25, 20, 10, 5]
        )[0]
        try:
            if kind == "hit":
                status, _ = await http(port, "POST", "/v1/chat/completions", chat(f"repeat {n % 20}"), JSON)
                ok = status == 200
            elif kind == "miss":
                status, _ = await http(port, "POST", "/v1/chat/completions", chat(f"unique {worker} {n} {time.time()}"), JSON)
                ok = status == 200
            elif kind == "stream":
                status, body = await http(port, "POST", "/v1/chat/completions", chat(f"stream {n % 50}", True), JSON)
                ok = status == 200 and b"[DONE]" in body
            elif kind == "bad":
                bad = random.choice([b"{not json", b'{"model": 5}', b'{"model":"m","messages":[[[]]]}',
                                     b'{"model":"m","temperature":"hot","messages":[{"role":"user","content":"x"}]}'])
                status, _ = await http(port, "POST", "/v1/chat/completions", bad, JSON)
                ok = status == 400
            else:
                # A slow client: the head a few bytes at a time, then a normal request.
                reader, writer = await asyncio.open_connection(HOST, port)
                body = chat(f"slow {n % 10}")
                req = (f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}\r\ncontent-type: application/json\r\n"
                       f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n").encode() + body
                for i in range(0, len(req), 16):
                    writer.write(req[i:i + 16])
                    await writer.drain()
                    await asyncio.sleep(0.01)
                data = await asyncio.wait_for(reader.read(), 30)
                writer.close()
                ok = data.startswith(b"HTTP/1.1 200")
        except Exception:
            ok = False
        stats[kind] = stats.get(kind, 0) + 1
        if not ok:
            stats["errors"] = stats.get("errors", 0) + 1


async def soak(port, pid, minutes):
    start = time.monotonic()
    print(f"minute  requests  hits  misses  streams  bad  slow  errors  rss_mb  fds")
    total_errors = 0
    for minute in range(1, minutes + 1):
        stats = {}
        deadline = start + 60 * minute
        await asyncio.gather(*(soak_worker(port, deadline, stats, w) for w in range(8)))
        reqs = sum(v for k, v in stats.items() if k != "errors")
        total_errors += stats.get("errors", 0)
        print(f"{minute:>6}  {reqs:>8}  {stats.get('hit', 0):>4}  {stats.get('miss', 0):>6}  "
              f"{stats.get('stream', 0):>7}  {stats.get('bad', 0):>3}  {stats.get('slow', 0):>4}  "
              f"{stats.get('errors', 0):>6}  {rss_kb(pid) / 1024:>6.1f}  {fds(pid):>3}", flush=True)
    print(f"errors in all: {total_errors}")
    return 0 if total_errors == 0 else 1


async def slow_connection(port, opened, closed_at, start_bytes):
    """Sends a request head one byte a second until the daemon closes the connection."""
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        closed_at.append(None)
        return
    opened.append(1)
    header = start_bytes + b"x-slow: " + b"a" * 10000
    try:
        for b in header:
            writer.write(bytes([b]))
            await writer.drain()
            try:
                await asyncio.wait_for(reader.read(1024), 1.0)
                break  # an answer or EOF: the daemon is done with us
            except asyncio.TimeoutError:
                pass
    except (ConnectionError, OSError):
        pass
    closed_at.append(time.monotonic())
    writer.close()


async def timed(coro):
    t = time.perf_counter()
    result = await coro
    return (time.perf_counter() - t) * 1000, result


async def proxy_get(proxy_port, tunnel_port):
    reader, writer = await asyncio.open_connection(HOST, proxy_port)
    writer.write(f"CONNECT {HOST}:{tunnel_port} HTTP/1.1\r\nhost: {HOST}:{tunnel_port}\r\n\r\n".encode())
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200"), head
    writer.write(f"GET /count HTTP/1.1\r\nhost: {HOST}\r\nconnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data.startswith(b"HTTP/1.")


async def slowloris(gw, proxy, tunnel, pid, n, header_timeout):
    start = time.monotonic()
    gw_open, gw_closed, px_open, px_closed = [], [], [], []
    head = f"POST /v1/chat/completions HTTP/1.1\r\nhost: {HOST}\r\n".encode()
    proxy_head = f"CONNECT {HOST}:{tunnel} HTTP/1.1\r\n".encode()
    tasks = [asyncio.create_task(slow_connection(gw, gw_open, gw_closed, head)) for _ in range(n)]
    tasks += [asyncio.create_task(slow_connection(proxy, px_open, px_closed, proxy_head)) for _ in range(n)]
    await asyncio.sleep(2)
    print(f"open slow connections: gateway {len(gw_open)}, proxy {len(px_open)}; daemon fds {fds(pid)}, rss {rss_kb(pid) / 1024:.1f} MB")
    gw_ms, px_ms = [], []
    for i in range(20):
        ms, (status, _) = await timed(http(gw, "POST", "/v1/chat/completions", chat(f"normal {i % 3}"), JSON, timeout=10))
        assert status == 200, status
        gw_ms.append(ms)
        ms, ok = await timed(proxy_get(proxy, tunnel))
        assert ok
        px_ms.append(ms)
        await asyncio.sleep(0.1)
    q = lambda xs: f"p50 {statistics.median(xs):.1f} ms, max {max(xs):.1f} ms"
    print(f"normal client while they were open: gateway {q(gw_ms)}; proxy tunnel {q(px_ms)}")
    await asyncio.wait_for(asyncio.gather(*tasks), header_timeout + 60)
    for name, closed in [("gateway", gw_closed), ("proxy", px_closed)]:
        times = [t - start for t in closed if t is not None]
        print(f"{name}: {len(times)} of {n} closed by the daemon; last after {max(times):.1f} s "
              f"(header timeout {header_timeout} s)")
    return 0


def main():
    cmd = sys.argv[1]
    if cmd == "soak":
        port, pid, minutes = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
        sys.exit(asyncio.run(soak(port, pid, minutes)))
    if cmd == "slowloris":
        gw, proxy, tunnel, pid, n, timeout = map(int, sys.argv[2:8])
        sys.exit(asyncio.run(slowloris(gw, proxy, tunnel, pid, n, timeout)))
    sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
