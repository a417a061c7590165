"""The data stage (SPEC §1): download with checksums, load the official formats, split, store.

    download_dataset(name, root, allow_download=True, *, checksums=None, **options) -> list[Path]
    prepare_dataset(name, root, seed, *, checksums=None, **options) -> Prepared
    write_prepared(path, prepared); load_prepared(path) -> Prepared
    make_synthetic(n=20000, rng) -> (x, y, group)          # paper App. C

Datasets are registered by name in ``DATASETS``: cifar10, svhn, pathmnist, dermamnist, digits,
synthetic, standin, npz. Every data problem raises ``DataError`` naming the problem, the file and the fix.
"""
from prestorepro.data.assemble import stratified_split
from prestorepro.data.base import DATASETS, SPLITS, DatasetSpec, Prepared, RawFile
from prestorepro.data.datasets import download_dataset, get_spec, prepare_dataset
from prestorepro.errors import DataError
from prestorepro.data.store import load_prepared, meta_path, write_prepared
from prestorepro.data.synthetic import make_synthetic

__all__ = [
    "DATASETS",
    "SPLITS",
    "DataError",
    "DatasetSpec",
    "Prepared",
    "RawFile",
    "download_dataset",
    "get_spec",
    "load_prepared",
    "make_synthetic",
    "meta_path",
    "prepare_dataset",
    "stratified_split",
    "write_prepared",
]
