"""A deliberately fast HTTP server on 127.0.0.1 for the scale test and benchmark.

asyncio, keep-alive, one fixed small page for every path: the crawler, not the
server, should be what the benchmark measures. Run it as its own process, outside
the crawler's process tree, so its memory is not counted:

    python tests/fast_server.py   # prints the port, serves until killed
"""

from __future__ import annotations

import asyncio
import sys

BODY = b"<html><head><meta charset='utf-8'><title>ok</title></head><body>ok</body></html>"
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY)
)


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            if not head:
                break
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(port: int = 0) -> None:
    server = await asyncio.start_server(serve_connection, "127.0.0.1", port, backlog=512)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
