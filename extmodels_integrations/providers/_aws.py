"""AWS plumbing for Amazon Bedrock: SigV4 request signing (through botocore) and an incremental
decoder for the binary ``application/vnd.amazon.eventstream`` framing.

botocore is the optional ``bedrock`` extra; it is imported only when a Bedrock target is built.
The event-stream decoder is our own (stdlib ``struct`` + ``zlib.crc32``) rather than botocore's
``EventStreamBuffer``: that class keeps its unparsed bytes in a private attribute, so a stream cut
inside a frame cannot be told apart from a clean end without reaching into it, and it re-copies
the whole buffer on every read. The framing (prelude, typed headers, two CRC32s) is the one in
``botocore/eventstream.py`` and the AWS event-stream specification; tests cross-check the two.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import struct
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from extmodels_integrations._exceptions import ConfigurationError, MalformedResponseError
from extmodels_integrations._transport import Transport
from extmodels_integrations._wire import HttpRequest

__all__ = [
    "BOTOCORE_HINT",
    "EventMessage",
    "EventStreamDecoder",
    "SigV4Auth",
    "botocore_module",
]

BOTOCORE_HINT = 'pip install "extmodels-integrations[bedrock]"'
"""How to get botocore, which Bedrock targets need for SigV4 signing."""

# Limits from the event-stream specification (and botocore/eventstream.py).
_PRELUDE = 12
_MAX_HEADERS = 128 * 1024
_MAX_PAYLOAD = 24 * 1024 * 1024
# Signed-request headers copied onto the request we send.
_SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


class _MaskSecrets(logging.Filter):
    """Masks credential values in botocore's signing logs: at DEBUG ``botocore.auth`` logs the
    canonical request it signs, and with temporary credentials that holds the session token
    (``x-amz-security-token``), found by the secrets canary in tests/reliability."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()

    def add(self, values: tuple[str | None, ...]) -> None:
        # Replaced, not updated in place: filter() may iterate it on another thread.
        self.secrets = self.secrets | {v for v in values if v and len(v) >= 4}

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.secrets
        if secrets:
            text = record.getMessage()
            masked = text
            for secret in secrets:
                masked = masked.replace(secret, "***")
            if masked != text:
                record.msg, record.args = masked, None
        return True


_BOTOCORE_LOG_MASK = _MaskSecrets()


def _mask_in_botocore_logs(credentials: Any) -> None:
    if not {credentials.secret_key, credentials.token} <= _BOTOCORE_LOG_MASK.secrets | {None}:
        _BOTOCORE_LOG_MASK.add((credentials.access_key, credentials.secret_key, credentials.token))
    logger = logging.getLogger("botocore.auth")
    if _BOTOCORE_LOG_MASK not in logger.filters:
        logger.addFilter(_BOTOCORE_LOG_MASK)


def botocore_module(name: str) -> Any:
    """``botocore.<name>``, or a :class:`ConfigurationError` saying how to install it."""
    try:
        return importlib.import_module(f"botocore.{name}")
    except ImportError:
        raise ConfigurationError(
            f"provider 'amazon-bedrock' needs botocore for AWS request signing: {BOTOCORE_HINT}"
        ) from None


class _Credentials:
    """Frozen credentials for signing, read by botocore's ``SigV4Auth`` as ``access_key``,
    ``secret_key`` and ``token``. botocore's own frozen credentials are a namedtuple whose
    repr shows all three, and tracebacks with locals print ``sign``'s ``credentials``."""

    __slots__ = ("access_key", "secret_key", "token")

    def __init__(self, frozen: Any) -> None:
        self.access_key: str = frozen.access_key
        self.secret_key: str = frozen.secret_key
        self.token: str | None = frozen.token

    def __repr__(self) -> str:
        return "<AWS credentials>"


class SigV4Auth:
    """AWS Signature Version 4 over the exact method, URL, headers and body bytes sent.

    With an access-key pair (and optional session token) the keys sign every request. Without
    one, botocore's default credential chain is used (environment variables, shared config and
    credentials files, container and instance-profile credentials), resolved on first use and
    refreshed by botocore when temporary; that chain may call the instance metadata service, so
    the async path resolves it in a worker thread. No role is assumed from an ARN.
    """

    def __init__(
        self,
        *,
        region: str,
        service: str = "bedrock",
        access_key_id: SecretStr | None = None,
        secret_access_key: SecretStr | None = None,
        session_token: SecretStr | None = None,
    ) -> None:
        if (access_key_id is None) != (secret_access_key is None):
            raise ConfigurationError("give both aws_access_key_id and aws_secret_access_key")
        self.region = region
        self.service = service
        self._auth = botocore_module("auth")
        self._awsrequest = botocore_module("awsrequest")
        self._botocore_credentials = botocore_module("credentials")
        self._static: Any = None
        if access_key_id is not None and secret_access_key is not None:
            self._static = self._botocore_credentials.Credentials(
                access_key_id.get_secret_value(),
                secret_access_key.get_secret_value(),
                session_token.get_secret_value() if session_token is not None else None,
            )
        self._chain: Any = None
        self._last: _Credentials | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        source = "access keys" if self._static is not None else "default credential chain"
        return f"SigV4Auth(service={self.service!r}, region={self.region!r}, source={source!r})"

    def credentials(self) -> _Credentials:
        """Frozen credentials (access key, secret key, token) for one request."""
        if self._static is not None:
            frozen = _Credentials(self._static.get_frozen_credentials())
        else:
            with self._lock:
                if self._chain is None:
                    session = botocore_module("session").Session()
                    self._chain = session.get_credentials()
                if self._chain is None:
                    raise ConfigurationError(
                        "amazon_bedrock_config: no AWS credentials: set aws_access_key_id and "
                        "aws_secret_access_key, or configure the default AWS credential chain "
                        "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance "
                        "profile)"
                    )
            frozen = _Credentials(self._chain.get_frozen_credentials())
        self._last = frozen
        _mask_in_botocore_logs(frozen)
        return frozen

    def sign(self, request: HttpRequest, credentials: Any) -> dict[str, str]:
        """The signature headers for ``request`` as it will be sent."""
        if request.params:
            raise ConfigurationError("SigV4 signing here covers requests without query params")
        aws = self._awsrequest.AWSRequest(
            method=request.method,
            url=request.url,
            data=request.content or b"",
            headers=dict(request.headers),
        )
        self._auth.SigV4Auth(credentials, self.service, self.region).add_auth(aws)
        return {name: aws.headers[name] for name in _SIGNATURE_HEADERS if name in aws.headers}

    def headers(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        return self.sign(request, self.credentials())

    async def aheaders(self, transport: Transport, request: HttpRequest) -> Mapping[str, str]:
        if self._static is not None:
            return self.sign(request, self.credentials())
        return self.sign(request, await asyncio.to_thread(self.credentials))

    def secret_values(self) -> tuple[str, ...]:
        creds = self._static if self._static is not None else self._last
        if creds is None:
            return ()
        return tuple(v for v in (creds.access_key, creds.secret_key, creds.token) if v)


@dataclass(frozen=True, slots=True)
class EventMessage:
    """One event-stream message: its headers (``:message-type``, ``:event-type``...) and
    payload bytes."""

    headers: dict[str, Any]
    payload: bytes


# Header value types of the event-stream format -> width in bytes; 6 (bytes) and 7 (string)
# carry a 2-byte length prefix instead. 0/1 are true/false, 9 a UUID, the rest signed integers
# (8 a timestamp in ms).
_WIDTHS = {0: 0, 1: 0, 2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}
_INTS = {2: ">b", 3: ">h", 4: ">i", 5: ">q", 8: ">q"}


def _header_value(kind: int, data: bytes, at: int) -> tuple[Any, int]:
    """The value of type ``kind`` at ``data[at:]`` and the offset after it."""
    if kind in (6, 7):
        length = int.from_bytes(data[at : at + 2], "big")
        raw, end = data[at + 2 : at + 2 + length], at + 2 + length
        width_ok = len(raw) == length
        value: Any = raw.decode() if kind == 7 else raw
    elif kind in _WIDTHS:
        end = at + _WIDTHS[kind]
        raw = data[at:end]
        width_ok = len(raw) == _WIDTHS[kind]
        value = struct.unpack(_INTS[kind], raw)[0] if kind in _INTS and width_ok else raw
        if kind <= 1:
            value = kind == 0
    else:
        raise MalformedResponseError(f"event stream header has unknown value type {kind}")
    if not width_ok:
        raise MalformedResponseError("event stream message has truncated headers")
    return value, end


def _headers(data: bytes) -> dict[str, Any]:
    headers: dict[str, Any] = {}
    at = 0
    try:
        while at < len(data):
            size = data[at]
            name = data[at + 1 : at + 1 + size].decode()
            headers[name], at = _header_value(data[at + 1 + size], data, at + 2 + size)
    except (IndexError, UnicodeDecodeError):
        raise MalformedResponseError("event stream message has malformed headers") from None
    return headers


class EventStreamDecoder:
    """Incremental ``application/vnd.amazon.eventstream`` decoder (a ``StreamDecoder``).

    Messages split across reads are buffered; both CRC32s are checked; a stream that ends inside
    a message raises instead of passing for a complete one.
    """

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[EventMessage]:
        """Add ``chunk`` and return the messages it completed."""
        self._buffer += chunk
        out: list[EventMessage] = []
        while len(self._buffer) >= _PRELUDE:
            total, headers_length, prelude_crc = struct.unpack_from(">III", self._buffer)
            if zlib.crc32(self._buffer[:8]) != prelude_crc:
                raise MalformedResponseError(
                    "event stream prelude CRC mismatch: the stream is corrupt"
                )
            payload_length = total - headers_length - _PRELUDE - 4
            if headers_length > _MAX_HEADERS or not 0 <= payload_length <= _MAX_PAYLOAD:
                raise MalformedResponseError(
                    f"event stream message has impossible lengths ({total}, {headers_length})"
                )
            if len(self._buffer) < total:
                break
            message = bytes(self._buffer[:total])
            del self._buffer[:total]
            (crc,) = struct.unpack_from(">I", message, total - 4)
            if zlib.crc32(message[:-4]) != crc:
                raise MalformedResponseError(
                    "event stream message CRC mismatch: the stream is corrupt"
                )
            end = _PRELUDE + headers_length
            out.append(EventMessage(_headers(message[_PRELUDE:end]), message[end:-4]))
        return out

    def close(self) -> list[EventMessage]:
        """Raise if the stream ended inside a message."""
        if self._buffer:
            left = len(self._buffer)
            self._buffer.clear()
            raise MalformedResponseError(
                f"event stream ended inside a message ({left} bytes left over); "
                "the connection was probably cut"
            )
        return []
