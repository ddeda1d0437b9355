#!/usr/bin/python3
"""A real SMTP server for tests (Debian's python3-aiosmtpd).

    /usr/bin/python3 tests/smtp_sink.py --port N --out DIR \
        [--tls-cert CERT --tls-key KEY]

Each message received is written to DIR as NNNN.eml (the DATA exactly as
received, after dot-unstuffing) with a NNNN.env beside it holding the
envelope ("MAIL FROM: ..." and one "RCPT TO: ..." a line). Prints "ready"
once listening; stops on SIGTERM or SIGINT.
"""
import argparse
import itertools
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out):
        self.out = out
        self.seq = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = next(self.seq)
        base = os.path.join(self.out, "%04d" % n)
        env = "MAIL FROM: %s\n" % envelope.mail_from
        env += "".join("RCPT TO: %s\n" % r for r in envelope.rcpt_tos)
        env += "TLS: %s\n" % ("yes" if session.ssl else "no")
        with open(base + ".env.tmp", "w") as f:
            f.write(env)
        os.rename(base + ".env.tmp", base + ".env")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        with open(base + ".eml.tmp", "wb") as f:
            f.write(data)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 OK stored"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--out", required=True)
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    kw = {}
    if a.tls_cert and a.tls_key:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(a.tls_cert, a.tls_key)
        kw["tls_context"] = ctx
    ctl = Controller(Sink(a.out), hostname=a.host, port=a.port, **kw)
    ctl.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        ctl.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
