"""The fast profile's embedder: distilled static token vectors, run as an
ONNX graph (gather, dequantize, mean over the unpadded word pieces)."""

import numpy as np

from assistant import Settings
from assistant.embedders import get_embedder


def test_static_vectors_are_unit_length_the_same_in_any_batch_and_closer_for_related_texts():
    e = get_embedder(Settings(profile="fast"))
    short, long_ = (
        "When was the harbour dredged?",
        "The harbour of Velmora was dredged to a depth of fourteen metres in 2019.",
    )
    v = e.embed([short, long_, "Beyonce sang at the Super Bowl.", ""])
    assert v.shape == (4, e.dim) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    # Alone, or padded beside a longer text: the padding adds nothing to the mean.
    assert np.allclose(e.embed([short])[0], v[0], atol=1e-6)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3
    assert e.embed([]).shape == (0, e.dim)
