# The default PCI DSS policy for regate (entrypoint regate/decision).
#
# Rules live here; group names, thresholds and approver groups live in data.json (data.pci), so a
# security engineer changes who may do what by editing data, not logic. The decision contract is in
# docs/policy.md: {allow, reason, mask: {request, response}, hold}. A set `hold` means "hold for
# approval" whatever `allow` says; held decisions still carry `allow: false` so that a consumer
# that ignored `hold` would fail closed.
package regate

cfg := data.pci

groups := {g | some g in input.identity.groups}

method := upper(input.request.method)

path := input.request.path

# Exactly one operation per request: the first clause that matches wins.
operation := "model_management" if {
	method == "POST"
	path == "/v1/models/load"
} else := "model_management" if {
	method == "DELETE"
	startswith(path, "/v1/models/")
} else := "score" if {
	method == "POST"
	path == "/v1/score"
} else := "transactions" if {
	method == "GET"
	path == "/v1/transactions"
} else := "chat" if {
	method == "POST"
	path == "/v1/chat/completions"
} else := "unknown"

# The caller's groups that the operation admits.
permitting_groups contains g if {
	some g in cfg.operations[operation].groups
	g in groups
}

permitted if count(permitting_groups) > 0

deny_reason := concat("", [method, " ", path, " matches no rule and is denied by default"]) if {
	operation == "unknown"
} else := concat("", ["model management (", method, " ", path, ") requires ", concat(", ", cfg.operations.model_management.groups)]) if {
	operation == "model_management"
	not permitted
} else := concat("", [method, " ", path, " requires one of: ", concat(", ", cfg.operations[operation].groups)]) if {
	not permitted
}

# PCI DSS 3.4: pci-admins may see first six and last four digits, everyone else the last four.
pan_format := cfg.pan_format[cfg.groups.pci_admins] if {
	cfg.groups.pci_admins in groups
} else := cfg.pan_format.default

# Custom detectors the bundle's data declares (data.custom_detectors: [{name, pattern, ...}], e.g. an
# internal account number) are masked in full wherever card data is.
default custom_detectors := []

custom_detectors := data.custom_detectors

custom_masks := [{"detector": d.name, "format": "full"} | some d in custom_detectors]

card_masks := array.concat(
	[
		{"detector": "pan", "format": pan_format},
		{"detector": "cvv", "format": "full"},
		{"detector": "track", "format": "full"},
	],
	custom_masks,
)

no_masks := {"request": [], "response": []}

# Chat prompts are free text a support agent may paste card data into: mask both directions.
masks := {"request": card_masks, "response": card_masks} if {
	operation == "chat"
} else := {"request": [], "response": card_masks} if {
	operation in {"score", "transactions"}
} else := no_masks

# Bulk extraction: a page size over the threshold (or one that is not a number), or too many
# requests in the last minute, on the operations that return cardholder data.
bulk_reasons contains concat("", ["limit ", l, " exceeds the bulk threshold of ", format_int(cfg.bulk.max_limit, 10)]) if {
	operation == "transactions"
	some l in object.get(input.request.query, "limit", [])
	not within_limit(l)
}

bulk_reasons contains concat("", [format_int(input.usage.requests_last_minute, 10), " requests in the last minute exceed the threshold of ", format_int(cfg.bulk.max_requests_per_minute, 10)]) if {
	operation in cfg.bulk.operations
	input.usage.requests_last_minute > cfg.bulk.max_requests_per_minute
}

bulk_reasons contains "usage.requests_last_minute is missing, so the request rate is unknown" if {
	operation in cfg.bulk.operations
	not rate_known
}

rate_known if is_number(input.usage.requests_last_minute)

within_limit(l) if to_number(l) <= cfg.bulk.max_limit

# An approved replay of this very request, or an active just-in-time grant, lets a bulk request
# through instead of holding it again. The hold stage only presents approvals that match the request.
approved if input.approval.expires_at_ns > input.time.now_ns

approved if {
	some g in input.grants
	g.expires_at_ns > input.time.now_ns
}

hold_spec := {
	"reason": concat("", ["bulk extraction held for approval: ", concat("; ", bulk_reasons)]),
	"approvers": cfg.bulk.approvers,
	"ttl_seconds": cfg.bulk.hold_ttl_seconds,
	"max_grant_seconds": cfg.bulk.max_grant_seconds,
}

allow_reason := concat("", [method, " ", path, " allowed for ", concat(", ", permitting_groups), "; bulk request approved"]) if {
	count(bulk_reasons) > 0
} else := concat("", [method, " ", path, " allowed for ", concat(", ", permitting_groups)])

default decision := {
	"allow": false,
	"reason": "the policy could not decide on this input, so it is denied",
	"mask": {"request": [], "response": []},
	"hold": null,
}

decision := {"allow": false, "reason": deny_reason, "mask": no_masks, "hold": null} if {
	deny_reason
} else := {"allow": false, "reason": hold_spec.reason, "mask": masks, "hold": hold_spec} if {
	count(bulk_reasons) > 0
	not approved
} else := {"allow": true, "reason": allow_reason, "mask": masks, "hold": null}
