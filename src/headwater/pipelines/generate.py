"""Seedable, vectorized source data for the reference retail scenario.

Every column is drawn with NumPy in one call, so five million orders take
seconds and a few hundred MB. Product cost is drawn independently of price,
so some products sell at a loss (the root-cause story of the demo).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pyarrow as pa

FIRST = np.array(
    [
        "Ada",
        "Grace",
        "Alan",
        "Edsger",
        "Barbara",
        "Donald",
        "Frances",
        "Ken",
        "Margaret",
        "Linus",
        "Radia",
        "Guido",
    ]
)
LAST = np.array(
    [
        "Lovelace",
        "Hopper",
        "Turing",
        "Dijkstra",
        "Liskov",
        "Knuth",
        "Allen",
        "Thompson",
        "Hamilton",
        "Torvalds",
        "Perlman",
        "Rossum",
    ]
)
STATES = np.array(["CA", "NY", "TX", "WA", "IL", "MA", "CO", "OR", "FL", "GA"])
CATEGORIES = np.array(["Electronics", "Home", "Garden", "Toys", "Books", "Sports", "Beauty"])


def customers(rows: int, rng: np.random.Generator, _: dict[str, int]) -> pa.Table:
    """customer_id, first_name, last_name, email, state, signup_date."""
    ids = np.arange(1, rows + 1, dtype=np.int64)
    first = FIRST[rng.integers(0, len(FIRST), rows)]
    last = LAST[rng.integers(0, len(LAST), rows)]
    email = np.char.add(
        np.char.add(np.char.lower(first), "."),
        np.char.add(np.char.lower(last), np.char.add(ids.astype(str), "@example.com")),
    )
    signup = np.datetime64("2020-01-01") + rng.integers(0, 1800, rows).astype("timedelta64[D]")
    return pa.table(
        {
            "customer_id": ids,
            "first_name": first,
            "last_name": last,
            "email": email,
            "state": STATES[rng.integers(0, len(STATES), rows)],
            "signup_date": pa.array(signup, type=pa.date32()),
        }
    )


def products(rows: int, rng: np.random.Generator, _: dict[str, int]) -> pa.Table:
    """product_id, product_name, category, price, cost (cost independent of price)."""
    ids = np.arange(1, rows + 1, dtype=np.int64)
    category = CATEGORIES[rng.integers(0, len(CATEGORIES), rows)]
    return pa.table(
        {
            "product_id": ids,
            "product_name": np.char.add(np.char.add(category, " item "), ids.astype(str)),
            "category": category,
            "price": np.round(rng.uniform(5, 200, rows), 2),
            "cost": np.round(rng.uniform(3, 150, rows), 2),
        }
    )


def orders(rows: int, rng: np.random.Generator, sizes: dict[str, int]) -> pa.Table:
    """order_id, customer_id, product_id, quantity, order_date (keys within the generated sources)."""
    start = np.datetime64(date(2024, 1, 1))
    days = rng.integers(0, 365, rows).astype("timedelta64[D]")
    return pa.table(
        {
            "order_id": np.arange(1, rows + 1, dtype=np.int64),
            "customer_id": rng.integers(
                1, max(sizes.get("customers", 1), 1) + 1, rows, dtype=np.int64
            ),
            "product_id": rng.integers(
                1, max(sizes.get("products", 1), 1) + 1, rows, dtype=np.int64
            ),
            "quantity": rng.integers(1, 10, rows, dtype=np.int64),
            "order_date": pa.array(start + days, type=pa.date32()),
        }
    )


GENERATORS: dict[str, Callable[[int, np.random.Generator, dict[str, int]], pa.Table]] = {
    "customers": customers,
    "products": products,
    "orders": orders,
}
