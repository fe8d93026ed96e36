# Shared helpers: the pod spec and containers of any workload kind, Argo Rollouts included.
package gridos.lib

workload_kinds := {"Rollout", "Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}

pod_spec(obj) := obj.spec if obj.kind == "Pod"

pod_spec(obj) := obj.spec.template.spec if workload_kinds[obj.kind]

pod_spec(obj) := obj.spec.jobTemplate.spec.template.spec if obj.kind == "CronJob"

containers(obj) := array.concat(
	object.get(pod_spec(obj), "containers", []),
	object.get(pod_spec(obj), "initContainers", []),
)

name(obj) := sprintf("%s/%s", [obj.kind, obj.metadata.name])
