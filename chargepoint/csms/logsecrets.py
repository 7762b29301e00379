"""Secrets out of the log lines the local CSMS's libraries write.

``cpsim csms`` quiets the ``ocpp`` and ``websockets`` loggers (:func:`chargepoint.logs.setup`),
but a process that runs a LocalCsms with its own logging (a test, a library user, a
``--log-level DEBUG`` of its own) would see ocpp log each frame it sends (a
ChangeConfiguration with its AuthorizationKey) and websockets log each request header
(``Authorization: Basic ...``, the key in base64).  The CSMS's loggers carry this filter.
"""

from __future__ import annotations

import logging

from chargepoint.logmask import mask_text


class LogLineMasking(logging.Filter):
    """Rewrites a record whose text shows a secret (:func:`~chargepoint.logmask.mask_text`);
    it runs only for records that are logged at all."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        masked = mask_text(text)
        if masked != text:
            record.msg, record.args = masked, ()
        return True


def masked_logger(name: str) -> logging.Logger:
    """The logger ``name`` with :class:`LogLineMasking` on it (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, LogLineMasking) for f in logger.filters):
        logger.addFilter(LogLineMasking())
    return logger
