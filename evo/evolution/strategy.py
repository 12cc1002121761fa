"""Selection strategies: who breeds on an island and who stays.

  regularized  aging evolution (Real et al. 2019): a tournament on a random sample
               picks the parent; every child joins and the oldest member dies
  nsga2        generations: binary tournaments on (Pareto rank, crowding), then
               parents and children together are cut back to the population size

Both, now and then, take a parent from the island's own front instead (elitist
migration: progress at every cost keeps being built on after it ages out).
To add a strategy: a class with `generational`, `parent`, `join`, `begin` (before a
generation's children are made) and `end` (after they joined), one row in STRATEGIES.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..core.pareto import best_index, crowding, ranks
from ..runs.member import Member
from .state import Island


@dataclass(frozen=True)
class Selection:
    """The settings a strategy reads (SearchConfig's of the same names)."""

    population: int
    tournament: int
    archive_parents: float   # share of parents drawn from their island's front


class Regularized:
    generational = False   # children are made and joined one batch at a time, not by generation

    def __init__(self, config: Selection) -> None:
        self.config = config

    def parent(self, island: Island, rng: np.random.Generator) -> Member:
        if island.front and rng.random() < self.config.archive_parents:
            return island.front[int(rng.integers(len(island.front)))]
        pop = island.population
        k = min(self.config.tournament, len(pop))
        sample = rng.choice(len(pop), size=k, replace=False)
        return pop[int(sample[best_index([pop[int(i)].point for i in sample])])]

    def join(self, island: Island, child: Member) -> None:
        island.population.append(child)
        if len(island.population) > self.config.population:
            island.population.popleft()  # the oldest dies, however good: regularization

    def begin(self, island: Island) -> None:
        pass

    def end(self, island: Island) -> None:
        pass


class NSGA2:
    generational = True

    def __init__(self, config: Selection) -> None:
        self.config = config
        self._order: list[int] = []

    def parent(self, island: Island, rng: np.random.Generator) -> Member:
        if island.front and rng.random() < self.config.archive_parents:
            return island.front[int(rng.integers(len(island.front)))]
        pop = island.population
        i, j = rng.choice(len(pop), 2, replace=True)
        return pop[int(min(i, j, key=lambda k: self._order[k]))]

    def join(self, island: Island, child: Member) -> None:
        island.population.append(child)

    def begin(self, island: Island) -> None:
        self._order = rank_crowding_order([m.point for m in island.population])

    def end(self, island: Island) -> None:
        """Parents and children together; keep the best by rank, then crowding."""
        pop = list(island.population)
        order = rank_crowding_order([m.point for m in pop])
        keep = sorted(range(len(pop)), key=lambda i: order[i])[: self.config.population]
        island.population = deque(pop[i] for i in sorted(keep))


def rank_crowding_order(points: list[tuple[float, float]]) -> list[int]:
    """Position of each point when sorted by Pareto rank, then by crowding (lonelier first)."""
    rk = ranks(points)
    cd = np.zeros(len(points))
    for r in set(rk.tolist()):
        layer = np.flatnonzero(rk == r)
        cd[layer] = crowding([points[i] for i in layer])
    order = sorted(range(len(points)), key=lambda i: (rk[i], -cd[i], i))
    pos = [0] * len(points)
    for k, i in enumerate(order):
        pos[i] = k
    return pos


STRATEGIES: dict[str, type] = {"regularized": Regularized, "nsga2": NSGA2}
