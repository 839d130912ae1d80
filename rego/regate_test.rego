# Unit tests for the default PCI policy: one or more per rule in regate.rego.
package regate_test

import data.regate

req(groups, method, path) := {
	"identity": {"sub": "alice", "iss": "https://idp.test", "groups": groups, "claims": {}},
	"request": {"method": method, "path": path, "query": {}, "headers": {}, "body": null, "body_bytes": 0},
	"route": {"name": "test"},
	"usage": {"requests_last_minute": 1},
	"approval": null,
	"grants": [],
	"time": {"now_ns": 1000},
}

transactions(groups, limit) := object.union(req(groups, "GET", "/v1/transactions"), {"request": {"query": {"limit": [limit]}}})

pan_last4 := {"detector": "pan", "format": "last4"}

cvv_full := {"detector": "cvv", "format": "full"}

test_fraud_analyst_may_score_with_pan_last4_and_cvv_full if {
	d := regate.decision with input as req(["fraud-analysts"], "POST", "/v1/score")
	d.allow == true
	d.hold == null
	d.mask.request == []
	pan_last4 in d.mask.response
	cvv_full in d.mask.response
	d.reason == "POST /v1/score allowed for fraud-analysts"
	d.rules == ["allow.permitted", "mask.card_data.response"]
}

test_pci_admin_sees_first6last4 if {
	d := regate.decision with input as req(["pci-admins", "fraud-analysts"], "POST", "/v1/score")
	d.allow == true
	{"detector": "pan", "format": "first6last4"} in d.mask.response
	not pan_last4 in d.mask.response
}

account_detector := {"name": "account_number", "pattern": "ACCT-[0-9]{8}"}

test_custom_detectors_from_data_are_masked_with_card_data if {
	d := regate.decision with input as req(["support-agents"], "POST", "/v1/chat/completions")
		with data.custom_detectors as [account_detector]
	{"detector": "account_number", "format": "full"} in d.mask.request
	{"detector": "account_number", "format": "full"} in d.mask.response
	pan_last4 in d.mask.response
}

test_no_custom_detectors_no_extra_masks if {
	d := regate.decision with input as req(["fraud-analysts"], "POST", "/v1/score")
	count(d.mask.response) == 3
}

test_method_is_case_insensitive if {
	d := regate.decision with input as req(["fraud-analysts"], "post", "/v1/score")
	d.allow == true
}

test_other_groups_are_denied_score_with_reason if {
	d := regate.decision with input as req(["support-agents"], "POST", "/v1/score")
	d.allow == false
	d.hold == null
	d.reason == "POST /v1/score requires one of: fraud-analysts, pci-admins"
	d.mask == {"request": [], "response": []}
	d.rules == ["deny.group_required"]
}

test_no_groups_denied if {
	d := regate.decision with input as req([], "POST", "/v1/score")
	d.allow == false
}

test_unknown_route_denied_by_default if {
	d := regate.decision with input as req(["pci-admins"], "GET", "/v1/secrets")
	d.allow == false
	d.reason == "GET /v1/secrets matches no rule and is denied by default"
	d.rules == ["deny.no_rule"]
}

test_model_load_denied_unless_ml_admin if {
	d := regate.decision with input as req(["pci-admins"], "POST", "/v1/models/load")
	d.allow == false
	d.reason == "model management (POST /v1/models/load) requires ml-admins"
	d.rules == ["deny.model_management_group"]
}

test_model_delete_denied_unless_ml_admin if {
	d := regate.decision with input as req(["fraud-analysts"], "DELETE", "/v1/models/fraud-v2")
	d.allow == false
	startswith(d.reason, "model management (DELETE /v1/models/fraud-v2)")
}

test_ml_admin_may_manage_models if {
	d1 := regate.decision with input as req(["ml-admins"], "POST", "/v1/models/load")
	d1.allow == true
	d1.mask == {"request": [], "response": []}
	d2 := regate.decision with input as req(["ml-admins"], "DELETE", "/v1/models/fraud-v2")
	d2.allow == true
	d1.rules == ["allow.permitted"]
}

test_model_listing_is_not_model_management if {
	d := regate.decision with input as req(["ml-admins"], "GET", "/v1/models/fraud-v2")
	d.allow == false
	endswith(d.reason, "denied by default")
}

test_support_agent_chat_masks_prompt_and_answer if {
	d := regate.decision with input as req(["support-agents"], "POST", "/v1/chat/completions")
	d.allow == true
	pan_last4 in d.mask.request
	cvv_full in d.mask.request
	pan_last4 in d.mask.response
	cvv_full in d.mask.response
	d.rules == ["allow.permitted", "mask.card_data.request_and_response"]
}

test_fraud_analyst_may_not_chat if {
	d := regate.decision with input as req(["fraud-analysts"], "POST", "/v1/chat/completions")
	d.allow == false
}

test_small_transactions_page_allowed if {
	d := regate.decision with input as transactions(["fraud-analysts"], "1000")
	d.allow == true
	d.hold == null
}

test_bulk_limit_is_held_for_pci_approvers if {
	d := regate.decision with input as transactions(["fraud-analysts"], "5000")
	d.allow == false
	d.hold.approvers == ["pci-approvers"]
	d.hold.ttl_seconds == 3600
	d.hold.max_grant_seconds == 3600
	d.hold.reason == "bulk extraction held for approval: limit 5000 exceeds the bulk threshold of 1000"
	pan_last4 in d.mask.response
	d.rules == ["hold.bulk_limit", "mask.card_data.response"]
}

test_non_numeric_limit_is_held if {
	d := regate.decision with input as transactions(["fraud-analysts"], "all")
	d.hold.approvers == ["pci-approvers"]
}

test_threshold_comes_from_data if {
	d := regate.decision with input as transactions(["fraud-analysts"], "5000")
		with data.pci.bulk.max_limit as 10000
	d.allow == true
	d.hold == null
}

test_request_rate_over_threshold_is_held if {
	inp := object.union(req(["fraud-analysts"], "POST", "/v1/score"), {"usage": {"requests_last_minute": 61}})
	d := regate.decision with input as inp
	d.hold.reason == "bulk extraction held for approval: 61 requests in the last minute exceed the threshold of 60"
	d.rules == ["hold.bulk_rate", "mask.card_data.response"]
}

test_missing_usage_is_held if {
	inp := object.remove(req(["fraud-analysts"], "POST", "/v1/score"), ["usage"])
	d := regate.decision with input as inp
	contains(d.hold.reason, "requests_last_minute is missing")
	d.rules == ["hold.rate_unknown", "mask.card_data.response"]
}

test_rate_does_not_hold_chat if {
	inp := object.union(req(["support-agents"], "POST", "/v1/chat/completions"), {"usage": {"requests_last_minute": 500}})
	d := regate.decision with input as inp
	d.allow == true
	d.hold == null
}

test_denied_caller_is_denied_not_held if {
	d := regate.decision with input as transactions(["support-agents"], "5000")
	d.allow == false
	d.hold == null
}

approval(expires) := {"hold_id": "h-1", "approvers": ["bob"], "approved_at_ns": 500, "kind": "replay", "expires_at_ns": expires}

test_approved_replay_lets_bulk_through if {
	inp := object.union(transactions(["fraud-analysts"], "5000"), {"approval": approval(2000)})
	d := regate.decision with input as inp
	d.allow == true
	d.hold == null
	d.reason == "GET /v1/transactions allowed for fraud-analysts; bulk request approved"
	pan_last4 in d.mask.response
	d.rules == ["allow.bulk_approved", "mask.card_data.response"]
}

test_expired_approval_holds_again if {
	inp := object.union(transactions(["fraud-analysts"], "5000"), {"approval": approval(900)})
	d := regate.decision with input as inp
	d.allow == false
	d.hold.approvers == ["pci-approvers"]
}

test_active_grant_lets_bulk_through if {
	grant := object.union(approval(5000), {"kind": "grant"})
	inp := object.union(transactions(["fraud-analysts"], "5000"), {"grants": [grant]})
	d := regate.decision with input as inp
	d.allow == true
	d.hold == null
}

test_expired_grant_holds_again if {
	grant := object.union(approval(999), {"kind": "grant"})
	inp := object.union(transactions(["fraud-analysts"], "5000"), {"grants": [grant]})
	d := regate.decision with input as inp
	d.hold.approvers == ["pci-approvers"]
}

test_approval_does_not_override_denial if {
	inp := object.union(transactions(["support-agents"], "5000"), {"approval": approval(2000)})
	d := regate.decision with input as inp
	d.allow == false
	d.hold == null
}

test_garbage_input_is_denied if {
	d := regate.decision with input as {"nonsense": true}
	d.allow == false
	d.hold == null
	d.rules == ["default.undecided"]
}

test_two_bulk_limits_name_the_rule_once if {
	inp := object.union(req(["fraud-analysts"], "GET", "/v1/transactions"), {"request": {"query": {"limit": ["5000", "6000"]}}})
	d := regate.decision with input as inp
	d.rules == ["hold.bulk_limit", "mask.card_data.response"]
	d.hold.reason == "bulk extraction held for approval: limit 5000 exceeds the bulk threshold of 1000; limit 6000 exceeds the bulk threshold of 1000"
}
