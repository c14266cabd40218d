"""Built-in notification channel `log`: writes the notice to the structured log."""

from __future__ import annotations

import logging
from collections.abc import Callable

from billing.plugins.engines import Notification, NotificationChannel
from billing.plugins.hookspecs import hookimpl

log = logging.getLogger("billing.notifications")


class LogChannel:
    async def send(self, notification: Notification) -> None:
        log.info(
            "notification",
            extra={
                "tenant_id": notification.tenant_id,
                "recipient": notification.recipient,
                "template": notification.template,
            },
        )


@hookimpl
def billing_register_notification_channels(
    register: Callable[[str, NotificationChannel], None],
) -> None:
    register("log", LogChannel())
