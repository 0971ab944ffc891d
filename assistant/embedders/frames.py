"""The frames `EmbedWorker` (local.py) and its child process (worker.py)
exchange over the child's stdin and stdout: one length-prefixed pickle each.
A module of its own so that local.py and worker.py, which both use it, do
not import each other in a circle."""

from __future__ import annotations

import pickle
import struct

_HEADER = struct.Struct("<Q")


def write_frame(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream):
    """The next object, or None at end of stream."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (n,) = _HEADER.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        return None
    return pickle.loads(data)
