"""predict_probs streams a memory-mapped test set: memory stays at about a chunk, whatever N."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from toolkit.registry import encoders, heads, losses
from toolkit.train.batches import Normalizer
from toolkit.train.final import predict_probs

N = 100_000  # 16x16 RGB images: 73 MiB mapped
CHUNK = 1024


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="reads /proc (Linux)")
def test_predict_probs_memory_does_not_grow_with_the_test_set(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.save(tmp_path / "x_test.npy", rng.integers(0, 256, (N, 3, 16, 16), dtype=np.uint8))
    mapped = np.load(tmp_path / "x_test.npy", mmap_mode="r").view()  # as the cache gives it
    torch.manual_seed(0)
    encoder = encoders.create("pixels", in_channels=3, image_size=16)
    head = heads.create("linear-probe", in_features=encoder.out_dim, num_classes=4)
    loss = losses.create("softmax-ce", num_classes=4)
    norm = Normalizer(torch.full((3,), 0.5), torch.full((3,), 0.25))

    def probs(images: np.ndarray) -> np.ndarray:
        return predict_probs(
            encoder, head, loss, norm, images, device=torch.device("cpu"), chunk=CHUNK
        )

    expected = probs(np.array(mapped[:3000]))  # from memory; also maps torch's code pages
    before = _status_mb("RssFile"), _status_mb("RssAnon")
    streamed = probs(mapped)
    file_grown = _status_mb("RssFile") - before[0]
    anon_grown = _status_mb("RssAnon") - before[1]
    assert streamed.shape == (N, 4) and streamed.dtype == np.float32
    assert np.allclose(streamed[:3000], expected, atol=1e-6)  # same numbers as from memory
    # The map's pages are released chunk by chunk (else: all 73 MiB resident) ...
    assert file_grown < 8
    # ... and the heap does not grow per chunk (a list of chunk outputs made it grow 250+ MiB).
    assert anon_grown < 64


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        line = next(line for line in f if line.startswith(f"{field}:"))
    return int(line.split()[1]) / 1024
