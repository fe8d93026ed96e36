# In prod every image is pinned by digest: a tag can be moved, a digest cannot (what runs is what was tested).
package gridos.policies.image_digest

import data.gridos.lib

deny contains msg if {
	input.environment == "prod"
	some c in lib.containers(input.object)
	not contains(c.image, "@sha256:")
	msg := sprintf("%s: container \"%s\" image \"%s\" is not pinned by digest in prod", [lib.name(input.object), c.name, c.image])
}
