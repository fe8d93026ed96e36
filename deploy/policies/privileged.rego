# No privileged containers, no privilege escalation, no added capabilities, no host namespaces.
package gridos.policies.privileged

import data.gridos.lib

deny contains msg if {
	some c in lib.containers(input.object)
	c.securityContext.privileged == true
	msg := sprintf("%s: container \"%s\" is privileged", [lib.name(input.object), c.name])
}

deny contains msg if {
	some c in lib.containers(input.object)
	not c.securityContext.allowPrivilegeEscalation == false
	msg := sprintf("%s: container \"%s\" must set allowPrivilegeEscalation: false", [lib.name(input.object), c.name])
}

deny contains msg if {
	some c in lib.containers(input.object)
	count(object.get(object.get(object.get(c, "securityContext", {}), "capabilities", {}), "add", [])) > 0
	msg := sprintf("%s: container \"%s\" adds capabilities", [lib.name(input.object), c.name])
}

deny contains msg if {
	some host in ["hostNetwork", "hostPID", "hostIPC"]
	lib.pod_spec(input.object)[host] == true
	msg := sprintf("%s: %s is not allowed", [lib.name(input.object), host])
}
