# Every container runs as a non-root user: runAsNonRoot true (pod or container level) and never UID 0.
package gridos.policies.nonroot

import data.gridos.lib

deny contains msg if {
	some c in lib.containers(input.object)
	not non_root(c)
	msg := sprintf("%s: container \"%s\" must set runAsNonRoot: true (pod or container securityContext)", [lib.name(input.object), c.name])
}

deny contains msg if {
	some c in lib.containers(input.object)
	uid := object.get(object.get(c, "securityContext", {}), "runAsUser", object.get(object.get(lib.pod_spec(input.object), "securityContext", {}), "runAsUser", -1))
	uid == 0
	msg := sprintf("%s: container \"%s\" runs as UID 0", [lib.name(input.object), c.name])
}

non_root(c) if c.securityContext.runAsNonRoot == true

non_root(c) if {
	not c.securityContext.runAsNonRoot == false
	lib.pod_spec(input.object).securityContext.runAsNonRoot == true
}
