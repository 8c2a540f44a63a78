#!/usr/bin/env python3
"""A userspace link emulator: a TCP proxy on 127.0.0.1 with latency and bandwidth caps.

usage: linkem.py LISTEN_PORT_FILE UPSTREAM_PORT --rtt-ms 40 --conn-mbit 80 --total-mbit 400

Listens on 127.0.0.1 (a free port, written to LISTEN_PORT_FILE once listening) and forwards every
connection to 127.0.0.1:UPSTREAM_PORT (bytes pass through untouched, so TLS is end to end).
  - RTT: each connection waits one RTT before it is connected (the TCP handshake), and every
    chunk is delivered RTT/2 after it was sent, in both directions.
  - bandwidth: downstream (server to client) bytes are paced by a per-connection cap
    (--conn-mbit, 0 = none) and a cap shared by all connections (--total-mbit, 0 = none).
Stops on SIGTERM/SIGINT. Prints per-second totals nowhere: it is a link, not a meter.
"""
import argparse
import asyncio
import signal
import time

CHUNK = 32 * 1024


class Pacer:
    """Serialisation delay of a link of `rate` bytes/s: returns when a chunk may leave."""

    def __init__(self, mbit):
        self.rate = mbit * 1e6 / 8 if mbit else 0
        self.free_at = 0.0

    def reserve(self, n, now):
        if not self.rate:
            return now
        start = max(now, self.free_at)
        self.free_at = start + n / self.rate
        return self.free_at


async def pipe(reader, writer, owd, pacers):
    """Copy reader to writer: paced by `pacers` (all must allow it), delivered `owd` s later."""
    queue = asyncio.Queue()

    async def deliver():
        while True:
            item = await queue.get()
            if item is None:
                break
            at, data = item
            delay = at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            now = time.monotonic()
            leave = max([now] + [p.reserve(len(data), now) for p in pacers])
            if leave > now:
                await asyncio.sleep(leave - now)
            await queue.put((leave + owd, data))
            # keep the queue short: bytes in flight are bounded like a real window
            while queue.qsize() > 64:
                await asyncio.sleep(owd / 4 or 0.001)
    except (ConnectionError, OSError):
        pass
    finally:
        await queue.put(None)
        try:
            await sender
        except (ConnectionError, OSError):
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port_file")
    ap.add_argument("upstream_port", type=int)
    ap.add_argument("--rtt-ms", type=float, default=0)
    ap.add_argument("--conn-mbit", type=float, default=0)
    ap.add_argument("--total-mbit", type=float, default=0)
    args = ap.parse_args()
    owd = args.rtt_ms / 2000.0
    total = Pacer(args.total_mbit)

    async def handle(c_reader, c_writer):
        await asyncio.sleep(2 * owd)  # the handshake
        try:
            u_reader, u_writer = await asyncio.open_connection("127.0.0.1", args.upstream_port)
        except OSError:
            c_writer.close()
            return
        down = [Pacer(args.conn_mbit), total]
        await asyncio.gather(pipe(c_reader, u_writer, owd, []), pipe(u_reader, c_writer, owd, down))
        for w in (c_writer, u_writer):
            w.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.sockets[0].getsockname()[1]))
        import os

        os.replace(args.port_file + ".tmp", args.port_file)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
