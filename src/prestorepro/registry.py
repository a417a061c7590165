"""A small name -> object registry, one per kind of thing (datasets, methods, selectors...), and the
discovery of the modules that fill one.

Methods are looked up by the name used in config files; a miss lists the valid names. A registry of a
stage's methods (``stage=``) accepts only names of the catalogue (``prestorepro.catalogue``), so a
method cannot exist here without the entry the config check, the plans and the report read.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, stage: str | None = None):
        self.kind = kind
        self.stage = stage
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        if self.stage is not None:
            from prestorepro.catalogue import has

            if not has(self.stage, name):
                raise ValueError(f"{self.kind} {name!r} is not a {self.stage} method of the catalogue: add its "
                                 "entry to src/prestorepro/catalogue.py (docs/adding-a-method.md)")

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.kind} {name!r}; valid names are: {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))


def import_submodules(package: str, path: Iterable[str]) -> None:
    """Import every module of ``package`` (a package's ``__init__`` calls it with ``__name__, __path__``),
    so that a method's module registers itself by being there. ``prestorepro.codedeps`` reads such a
    call as an import of every module beside it."""
    for info in sorted(pkgutil.iter_modules(list(path)), key=lambda i: i.name):
        importlib.import_module(f"{package}.{info.name}")
