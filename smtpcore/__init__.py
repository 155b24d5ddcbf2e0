"""smtpcore: a sans-I/O SMTP core with thin transports.

``import smtpcore`` loads the sans-I/O API only: no sockets, no asyncio, no ssl, no dns.
The transports live in :mod:`smtpcore.sync` and :mod:`smtpcore.aio`; MX resolution in
:mod:`smtpcore.mx`; delivery status notifications in :mod:`smtpcore.dsn`.
"""

from ._errors import (
    ConnectError as ConnectError,
    ConnectTimeout as ConnectTimeout,
    DSNError as DSNError,
    LocalProtocolError as LocalProtocolError,
    MXError as MXError,
    NetworkError as NetworkError,
    PermanentReplyError as PermanentReplyError,
    ProtocolError as ProtocolError,
    ReadError as ReadError,
    ReadTimeout as ReadTimeout,
    RemoteProtocolError as RemoteProtocolError,
    ReplyError as ReplyError,
    SASLError as SASLError,
    SMTPCoreError as SMTPCoreError,
    SMTPTimeoutError as SMTPTimeoutError,
    TLSError as TLSError,
    TransientReplyError as TransientReplyError,
    WriteError as WriteError,
    WriteTimeout as WriteTimeout,
)
from ._status import EnhancedStatus as EnhancedStatus, StatusHint as StatusHint

__version__ = "0.1.0"

__all__ = [
    "ConnectError",
    "ConnectTimeout",
    "DSNError",
    "EnhancedStatus",
    "LocalProtocolError",
    "MXError",
    "NetworkError",
    "PermanentReplyError",
    "ProtocolError",
    "ReadError",
    "ReadTimeout",
    "RemoteProtocolError",
    "ReplyError",
    "SASLError",
    "SMTPCoreError",
    "SMTPTimeoutError",
    "StatusHint",
    "TLSError",
    "TransientReplyError",
    "WriteError",
    "WriteTimeout",
]
