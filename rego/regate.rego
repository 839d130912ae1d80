# The default PCI DSS policy for regate (entrypoint regate/decision).
#
# Rules live here; group names, thresholds and approver groups live in data.json (data.pci), so a
# security engineer changes who may do what by editing data, not logic. The decision contract is in
# docs/policy.md: {allow, reason, mask: {request, response}, hold, rules}. A set `hold` means "hold
# for approval" whatever `allow` says; held decisions still carry `allow: false` so that a consumer
# that ignored `hold` would fail closed. `rules` names the rules that decided (ids such as
# `deny.group_required`, `hold.bulk_limit`, `mask.card_data.response`): the audit log, the console
# and `regate policy diff` show them, so a changed decision says which rule changed it.
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

# Why a request is denied: the rule's id and the sentence the client reads.
denial := {"rule": "deny.no_rule", "reason": concat("", [method, " ", path, " matches no rule and is denied by default"])} if {
	operation == "unknown"
} else := {"rule": "deny.model_management_group", "reason": concat("", ["model management (", method, " ", path, ") requires ", concat(", ", cfg.operations.model_management.groups)])} if {
	operation == "model_management"
	not permitted
} else := {"rule": "deny.group_required", "reason": concat("", [method, " ", path, " requires one of: ", concat(", ", cfg.operations[operation].groups)])} if {
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
masking := {"rules": ["mask.card_data.request_and_response"], "masks": {"request": card_masks, "response": card_masks}} if {
	operation == "chat"
} else := {"rules": ["mask.card_data.response"], "masks": {"request": [], "response": card_masks}} if {
	operation in {"score", "transactions"}
} else := {"rules": [], "masks": no_masks}

masks := masking.masks

# Bulk extraction: a page size over the threshold (or one that is not a number), or too many
# requests in the last minute, on the operations that return cardholder data.
bulk contains {"rule": "hold.bulk_limit", "reason": concat("", ["limit ", l, " exceeds the bulk threshold of ", format_int(cfg.bulk.max_limit, 10)])} if {
	operation == "transactions"
	some l in object.get(input.request.query, "limit", [])
	not within_limit(l)
}

bulk contains {"rule": "hold.bulk_rate", "reason": concat("", [format_int(input.usage.requests_last_minute, 10), " requests in the last minute exceed the threshold of ", format_int(cfg.bulk.max_requests_per_minute, 10)])} if {
	operation in cfg.bulk.operations
	input.usage.requests_last_minute > cfg.bulk.max_requests_per_minute
}

bulk contains {"rule": "hold.rate_unknown", "reason": "usage.requests_last_minute is missing, so the request rate is unknown"} if {
	operation in cfg.bulk.operations
	not rate_known
}

bulk_reasons := {b.reason | some b in bulk}

bulk_rules := [r | some r in {b.rule | some b in bulk}]

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

allowance := {"rule": "allow.bulk_approved", "reason": concat("", [method, " ", path, " allowed for ", concat(", ", permitting_groups), "; bulk request approved"])} if {
	count(bulk_reasons) > 0
} else := {"rule": "allow.permitted", "reason": concat("", [method, " ", path, " allowed for ", concat(", ", permitting_groups)])}

default decision := {
	"allow": false,
	"reason": "the policy could not decide on this input, so it is denied",
	"mask": {"request": [], "response": []},
	"hold": null,
	"rules": ["default.undecided"],
}

decision := {"allow": false, "reason": denial.reason, "mask": no_masks, "hold": null, "rules": [denial.rule]} if {
	denial
} else := {"allow": false, "reason": hold_spec.reason, "mask": masks, "hold": hold_spec, "rules": array.concat(bulk_rules, masking.rules)} if {
	count(bulk_reasons) > 0
	not approved
} else := {"allow": true, "reason": allowance.reason, "mask": masks, "hold": null, "rules": array.concat([allowance.rule], masking.rules)}
