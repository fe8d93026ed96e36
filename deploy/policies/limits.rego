# Every container declares CPU and memory requests and limits (the scheduler and the HPA depend on them).
package gridos.policies.limits

import data.gridos.lib

deny contains msg if {
	some c in lib.containers(input.object)
	some kind in ["requests", "limits"]
	some resource in ["cpu", "memory"]
	not c.resources[kind][resource]
	msg := sprintf("%s: container \"%s\" has no %s.%s", [lib.name(input.object), c.name, kind, resource])
}
