/**
 * Fixtures for the policy-diff tests: variants of the committed PCI bundle (same module, other
 * data, so no compiler run is needed), and decision records written into a real LMDB audit log the
 * way the gateway writes them (input recorded with `recordInput`, body captured and masked).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLog, captureBody, loadOrCreateAuditKey, parseRecord, recordInput, type AuditRecord, type RequestDecisionEvent } from '../../src/audit/index.js';
import { DEFAULT_BUNDLE, type Decision, type PolicyEngine, type PolicyInput } from '../../src/policy/index.js';
import { readTarGz, writeTarGz } from '../../src/policy/tar.js';
import { auditScrub } from '../../src/app/index.js';

/** The committed bundle with `patch(data)` applied to its data and `revision` in its manifest. */
export async function bundleVariant(revision: string, patch: (data: { pci: Record<string, any> }) => void): Promise<Buffer> {
  const entries = readTarGz(await readFile(DEFAULT_BUNDLE)).map((e) => {
    if (e.name === 'data.json') {
      const data = JSON.parse(Buffer.from(e.bytes).toString('utf8'));
      patch(data);
      return { ...e, bytes: Buffer.from(JSON.stringify(data)) };
    }
    if (e.name === '.manifest') return { ...e, bytes: Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(e.bytes).toString('utf8')), revision })) };
    return e;
  });
  return writeTarGz(entries);
}

export function effectOf(d: Decision): RequestDecisionEvent['decision']['effect'] {
  if (d.hold) return 'hold';
  if (!d.allow) return 'deny';
  return d.mask.request.length || d.mask.response.length ? 'mask' : 'allow';
}

/** The decision record the gateway writes for `input` decided by `engine` (body capped at `cap`). */
export function decisionEvent(id: string, input: PolicyInput, engine: PolicyEngine, cap = 8192): RequestDecisionEvent {
  const d = engine.evaluate(input);
  return {
    type: 'request.decision',
    request_id: id,
    subject: input.identity.sub,
    groups: input.identity.groups,
    client: '127.0.0.1',
    route: input.route.name,
    upstream: 'model',
    method: input.request.method,
    path: input.request.path,
    decision: { effect: effectOf(d), reason: d.reason, policy_revision: engine.revision, rules: d.rules ?? [] },
    approval: null,
    request_body: input.request.body === null ? null : captureBody(JSON.stringify(input.request.body), cap),
    policy_input: recordInput(input),
  };
}

/** A real audit log in a temp folder, scrubbed as the gateway scrubs it. */
export async function auditFixture(): Promise<{ dir: string; open: () => Promise<AuditLog>; records: () => Promise<AuditRecord[]>; cleanup: () => void }> {
  const state = mkdtempSync(join(tmpdir(), 'regate-diff-'));
  const key = await loadOrCreateAuditKey(state);
  const dir = join(state, 'audit');
  const open = () => AuditLog.open({ dir, signingKey: key.privateKey, keyId: key.keyId, scrub: auditScrub });
  return {
    dir,
    open,
    records: async () => {
      const { openStore } = await import('../../src/audit/index.js');
      const store = openStore(dir, { readOnly: true });
      try {
        return [...store.records.getRange()].map(({ value }) => parseRecord(value) as AuditRecord);
      } finally {
        await store.env.close();
      }
    },
    cleanup: () => rmSync(state, { recursive: true, force: true }),
  };
}
