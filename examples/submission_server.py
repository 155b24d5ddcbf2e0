"""A submission server (RFC 6409 style): STARTTLS, then AUTH, then mail. Blocking flavour.

    python examples/submission_server.py [HOST [PORT]] [--ca-file PATH] [--count N]
    python examples/submission_server.py --cert cert.pem --key key.pem

Without --cert/--key a throw-away certificate authority is made at start-up with ``trustme``
(``pip install trustme``) and its certificate written to --ca-file (default
``submission-ca.pem``), so a client can verify the server::

    ctx = ssl.create_default_context(cafile="submission-ca.pem")
    SMTPClient(host, port, ssl_context=ctx, server_hostname="localhost",
               username="alice", password="wonderland", tls_policy="required")

Users and passwords come from $SUBMISSION_USERS ("user:password,user2:password2"),
alice:wonderland by default. AUTH is only offered after STARTTLS, and MAIL needs both.
Prints ``listening on HOST:PORT`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import os
import ssl
import threading
from pathlib import Path

from smtpcore import Mail, Reply
from smtpcore.sasl import DictCredentials
from smtpcore.sync import Envelope, Handler, Session, SMTPServer


def tls_context(cert: Path | None, key: Path | None, ca_file: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    if cert is not None:
        ctx.load_cert_chain(cert, key)
        return ctx
    import trustme  # a test dependency; pass --cert/--key to do without it

    ca = trustme.CA()
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(ctx)
    ca.cert_pem.write_to_path(str(ca_file))
    print(f"CA certificate written to {ca_file}", flush=True)
    return ctx


class Submission(Handler):
    def __init__(self, count: int | None) -> None:
        self.count = count
        self.received = 0
        self.done = threading.Event()

    def handle_mail(self, session: Session, mail: Mail) -> Reply | None:
        # The server already refuses MAIL before AUTH (require_auth=True, 530 5.7.0); a
        # submission server would also check the sender belongs to the user (RFC 6409 §6.1).
        tls = session.tls["version"] if session.tls else "no TLS"
        print(f"MAIL FROM:<{mail.reverse_path or ''}> by {session.authenticated_as} ({tls})")
        return None

    def handle_message(self, session: Session, envelope: Envelope, data: bytes) -> Reply:
        self.received += 1
        rcpts = ", ".join(str(r) for r in envelope.recipients)
        print(f"message {self.received} from {session.authenticated_as}: to {rcpts}", flush=True)
        if self.count is not None and self.received >= self.count:
            self.done.set()
        return Reply.of(250, f"Accepted message {self.received}", "2.0.0")


def users() -> dict[str, str]:
    spec = os.environ.get("SUBMISSION_USERS", "alice:wonderland")
    return dict(pair.split(":", 1) for pair in spec.split(",") if ":" in pair)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default=os.environ.get("SMTP_HOST", "127.0.0.1"))
    parser.add_argument(
        "port", nargs="?", type=int, default=int(os.environ.get("SMTP_PORT", "8587"))
    )
    parser.add_argument("--cert", type=Path)
    parser.add_argument("--key", type=Path)
    parser.add_argument("--ca-file", type=Path, default=Path("submission-ca.pem"))
    parser.add_argument("--count", type=int)
    args = parser.parse_args(argv)

    handler = Submission(args.count)
    server = SMTPServer(
        handler,
        args.host,
        args.port,
        hostname="localhost",
        tls_context=tls_context(args.cert, args.key, args.ca_file),
        credentials=DictCredentials(users()),
        auth_mechanisms=("SCRAM-SHA-256", "PLAIN", "LOGIN"),
        require_tls=True,
        require_auth=True,
    )
    with server:
        print(f"listening on {args.host}:{server.port}", flush=True)
        try:
            handler.done.wait() if args.count else server.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
