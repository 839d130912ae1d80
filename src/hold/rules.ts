/**
 * The approver rules, as pure functions over a hold record: who may approve or deny, how many
 * distinct approvals make a hold approved, and how long a just-in-time grant may last. Keeping
 * them free of storage and clocks makes them easy to test exhaustively and to read in one place.
 */
import { ApprovalRefused, GrantRefused, HoldNotPending } from './errors.js';
import { samePrincipal, type Grant, type Hold, type Principal } from './types.js';

export function approvalsRequired(hold: Hold): number {
  return Math.max(1, Math.floor(hold.spec.approvals_required ?? 1));
}

export function isExpired(hold: Hold, nowMs: number): boolean {
  return nowMs >= hold.expires_at_ms;
}

/** Refuses anyone who may not decide this hold; returns nothing when `who` may. */
export function checkDecider(hold: Hold, who: Principal, nowMs: number): void {
  if (hold.state !== 'pending' || isExpired(hold, nowMs)) {
    const state = hold.state === 'pending' ? 'expired' : hold.state;
    throw new HoldNotPending(`hold ${hold.id} is ${state}: it can no longer be approved or denied`);
  }
  if (samePrincipal(hold.requester, who)) {
    throw new ApprovalRefused(`${who.sub} requested hold ${hold.id} and may not decide it`);
  }
  if (!who.groups.some((g) => hold.spec.approvers.includes(g))) {
    throw new ApprovalRefused(
      `${who.sub} is in none of hold ${hold.id}'s approver groups (${hold.spec.approvers.join(', ')})`,
    );
  }
}

/** Checks a requested grant length against the hold's policy; null means no grant asked. */
export function checkGrantSeconds(hold: Hold, seconds: number | null): void {
  if (seconds === null) return;
  const max = hold.spec.max_grant_seconds ?? 0;
  if (max <= 0) throw new GrantRefused(`hold ${hold.id}'s policy allows no just-in-time grant`);
  if (!Number.isInteger(seconds) || seconds <= 0 || seconds > max) {
    throw new GrantRefused(`grant of ${seconds} s for hold ${hold.id} must be a whole number from 1 to ${max} s`);
  }
}

/** The hold after `who` approves it; `approved` tells whether that approval completed it. */
export function approve(
  hold: Hold,
  who: Principal,
  comment: string,
  grantSeconds: number | null,
  nowMs: number,
): { hold: Hold; approved: boolean } {
  checkDecider(hold, who, nowMs);
  if (hold.approvals.some((a) => samePrincipal(a.by, who))) {
    throw new ApprovalRefused(`${who.sub} already approved hold ${hold.id}; another approver must`);
  }
  checkGrantSeconds(hold, grantSeconds);
  const approvals = [...hold.approvals, { by: who, at_ms: nowMs, comment, grant_seconds: grantSeconds }];
  const approved = approvals.length >= approvalsRequired(hold);
  return {
    hold: { ...hold, approvals, state: approved ? 'approved' : 'pending', decided_at_ms: approved ? nowMs : null },
    approved,
  };
}

export function deny(hold: Hold, who: Principal, reason: string, nowMs: number): Hold {
  checkDecider(hold, who, nowMs);
  return { ...hold, state: 'denied', denial: { by: who, at_ms: nowMs, reason }, decided_at_ms: nowMs };
}

/**
 * The grant length an approved hold earns: the shortest any approver asked for (the most
 * conservative approver wins), or null when none asked.
 */
export function grantSecondsFor(hold: Hold): number | null {
  const asked = hold.approvals.map((a) => a.grant_seconds).filter((s): s is number => s !== null);
  return asked.length === 0 ? null : Math.min(...asked);
}

export function isGrantActive(grant: Grant, nowMs: number): boolean {
  return grant.revoked === null && nowMs < grant.expires_at_ms;
}

export function checkRevoker(grant: Grant, who: Principal): void {
  if (!who.groups.some((g) => grant.approver_groups.includes(g))) {
    throw new ApprovalRefused(`${who.sub} is in none of grant ${grant.id}'s approver groups and may not revoke it`);
  }
}

/** Whether a replay owed after a late approval is still usable. */
export function replayUsable(hold: Hold, nowMs: number): boolean {
  return hold.state === 'approved' && !hold.delivered && hold.replayed_at_ms === null && !isExpired(hold, nowMs);
}
