# Admission policy (ADR 0012): only images signed by our CI (cosign) may run. Written for an OPA/Gatekeeper
# admission webhook: input is an AdmissionReview; data.gridos.signatures.verified is the set of image digests
# whose cosign signature the verifier (Ratify, or the CI job that signs and attests) has checked, and
# data.gridos.signatures.registries the registries we trust. Unsigned, unpinned or foreign images are denied.
package gridos.admission.signed_images

import data.gridos.lib

review_object := input.request.object

images contains c.image if some c in lib.containers(review_object)

deny contains msg if {
	some image in images
	not trusted_registry(image)
	msg := sprintf("image \"%s\" is not from a trusted registry", [image])
}

deny contains msg if {
	some image in images
	not contains(image, "@sha256:")
	msg := sprintf("image \"%s\" is not pinned by digest, so its signature cannot be checked", [image])
}

deny contains msg if {
	some image in images
	digest := split(image, "@")[1]
	not data.gridos.signatures.verified[digest]
	msg := sprintf("image \"%s\" is not signed (no verified cosign signature for %s)", [image, digest])
}

trusted_registry(image) if {
	some registry in data.gridos.signatures.registries
	startswith(image, concat("", [registry, "/"]))
}
