"""What the commands of one invocation share: the debug flag, the settings and the client.

Settings and the client are built on first use, so that ``--help`` and usage errors need
no configuration, and the demo can set the environment of its cluster before either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from app.client import Client
    from app.settings import Settings

DEFAULT_ANSWER_TIMEOUT_S = 30.0


@dataclass
class Session:
    debug: bool = False
    answer_timeout_s: float = DEFAULT_ANSWER_TIMEOUT_S
    _client: Client | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        from app.settings import get_settings

        return get_settings()

    def client(self) -> Client:
        if self._client is None:
            from app.client import Client
            from workers.cli.preflight import check_redis

            check_redis(self.settings())
            self._client = Client(self.settings(), answer_timeout_s=self.answer_timeout_s)
        return self._client


pass_session = click.make_pass_decorator(Session, ensure=True)
