"""Where jobs live: a job id's spec by bisecting sorted ranges, groups and namespaces."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from ._config import JobSpec


class Registry:
    """Finds the spec of a job id by bisecting sorted ranges; never expands a range."""

    def __init__(self, jobs: Sequence[JobSpec]) -> None:
        self._ranges: dict[str, list[tuple[int, int, JobSpec]]] = {}
        self._groups: dict[tuple[str, str, str], JobSpec] = {}
        self._namespaces: set[tuple[str, str, str | None]] = set()
        for spec in jobs:
            spans = self._ranges.setdefault(spec.region, [])
            spans.extend((first, last, spec) for first, last in spec.job_ids)
            self._groups.setdefault((spec.region, spec.namespace, spec.group), spec)
            self._namespaces.add((spec.region, spec.namespace, spec.namespace_source))
        for spans in self._ranges.values():
            spans.sort(key=lambda span: span[0])
        self._starts = {region: [s[0] for s in spans] for region, spans in self._ranges.items()}

    def knows_region(self, region: str) -> bool:
        return region in self._ranges

    def has_namespace(self, region: str, namespace: str, source: str | None) -> bool:
        return (region, namespace, source) in self._namespaces

    def groups_in(self, region: str, namespace: str) -> list[JobSpec]:
        """One spec per group of a namespace, in the order the config declares them."""
        return [spec for (r, ns, _), spec in self._groups.items() if (r, ns) == (region, namespace)]

    def group(self, region: str, namespace: str, group: str) -> JobSpec | None:
        """Any spec of that group (they share edition and namespace source)."""
        return self._groups.get((region, namespace, group))

    def find(self, region: str, job_id: int) -> JobSpec | None:
        starts = self._starts.get(region)
        if not starts:
            return None
        index = bisect.bisect_right(starts, job_id) - 1
        if index < 0:
            return None
        first, last, spec = self._ranges[region][index]
        return spec if first <= job_id <= last else None
