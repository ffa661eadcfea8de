"""Model side of the project: the registry, task runners and the model Lambda.

Importing this package is cheap on purpose: the router imports
`inference.registry` and `inference.tasks`, and must never pull in torch.
"""
