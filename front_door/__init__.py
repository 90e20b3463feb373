"""The front door: `usagecast serve NAME`, an HTTP server in front of the registry's models.

It loads `models:/NAME@champion` (and a challenger alias) in-process as pyfuncs, answers
`/invocations` with the `mlflow models serve` contract, routes users by the A/B module's
sticky hash, enforces request limits, and writes the prediction log. Not shipped inside the
model (it imports analytics/ and the registry), so it lives beside serving/, not in it.
"""

from front_door.limits import Limits, RequestRefused

__all__ = ["Limits", "RequestRefused"]
