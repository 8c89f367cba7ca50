"""The personal shopper: product recommendations from history and the current visit.

Pure core (no I/O): `cooccurrence`, `factors` (ALS via implicit), `session_knn`,
`popularity`, `features` (candidates and features of one context), `ranker` (LightGBM
LambdaRank), `rules`, `reasons`, `metrics`. The seams: `data` (interactions out of the event
log) and `live` (a request's context out of the store). On top: `train`, `evaluate`,
`export`, `model` (versioned files), `service` (the in-memory model a server swaps), `routes`
and `cli`. Exceptions are in `errors`.
"""
