"""Offline validation of the rendered Kubernetes and Argo CD manifests (`gridctl validate`)."""
