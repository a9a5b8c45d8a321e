"""Datasets: a registry of named sets with canonical splits, file-format readers, and
batching.

``load_dataset(name, root=None, val_fraction=0.1, seed=0, **options)`` returns
:class:`DatasetSplits` (train / val / test :class:`ArraySplit` plus :class:`DatasetInfo`).
``name`` is a registered set or a source: ``sklearn:<name>``, ``ucr:<Name>``,
``file:<path>`` (.npz, .csv, .parquet, .ts) or ``tonic:<Name>``; :func:`raw_from_arrays`
turns a user's arrays into a checked :class:`RawData` for :func:`register_dataset`.
Samples are stored first (``[N, ...]``); encoders turn batches time-first.
"""

from .arrays import raw_from_arrays
from .audio import decode_wav, hz_to_mel, log_mel_spectrogram, mel_filterbank, mel_to_hz, num_frames, read_wav
from .batching import batch_order, iterate_batches, num_batches
from .formats import read_cifar_batch, read_idx, write_cifar_batch, write_idx
from .paths import cache_dir, default_data_root
from .registry import DATASETS, DatasetEntry, describe_datasets, list_datasets, load_dataset, register_dataset
from .splits import ArraySplit, DatasetInfo, DatasetSplits, RawData, carve_validation, encode_labels, finalize

__all__ = [
    "ArraySplit",
    "DATASETS",
    "DatasetEntry",
    "DatasetInfo",
    "DatasetSplits",
    "RawData",
    "batch_order",
    "cache_dir",
    "carve_validation",
    "decode_wav",
    "default_data_root",
    "describe_datasets",
    "encode_labels",
    "finalize",
    "hz_to_mel",
    "iterate_batches",
    "list_datasets",
    "load_dataset",
    "log_mel_spectrogram",
    "mel_filterbank",
    "mel_to_hz",
    "num_batches",
    "num_frames",
    "read_cifar_batch",
    "read_idx",
    "raw_from_arrays",
    "read_wav",
    "register_dataset",
    "write_cifar_batch",
    "write_idx",
]
