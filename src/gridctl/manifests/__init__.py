"""Offline validation of the rendered Kubernetes and Argo CD manifests (`gridctl validate`)."""

# The steps of `gridctl validate`, here (not in .validate) so the command's help needs no tooling import.
STEPS = ("schema", "semantic", "metrics", "policies", "checkov")
