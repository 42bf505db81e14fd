"""kombu's filesystem transport, with messages that appear in the queue folder whole.

kombu writes a message straight into the queue folder, so a consumer polling that folder
can take the file between its creation and its write, read nothing, and stop its worker
with a JSON error. Here a message is written under a name no consumer looks at and then
renamed into place, which is atomic within one folder.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # kombu's own bases name the message differently; this keeps the immediate parent's.
    def _put(self, queue: Any, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as file:
                file.write(str(dumps(payload)).encode())  # type: ignore[no-untyped-call]
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"cannot add message file {final!r} to the queue folder") from exc


class Transport(filesystem.Transport):
    Channel = Channel
