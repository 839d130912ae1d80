/**
 * Policy inputs the benchmarks share: a typical ~1 KB card-scoring request as the gateway builds
 * it, so the policy, audit and diff benchmarks measure the same thing.
 */
import type { PolicyInput } from '../../src/policy/index.js';

export function typical(): PolicyInput {
  return {
    identity: { sub: 'alice@example.com', iss: 'https://idp.example.com/realms/pci', groups: ['fraud-analysts', 'staff'], claims: { email: 'alice@example.com', department: 'risk', amr: ['pwd', 'otp'] } },
    request: {
      method: 'POST',
      path: '/v1/score',
      query: {},
      headers: { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'fraud-client/2.3.1 (node 20)', 'x-request-id': '5f0c8a7e-2b1d-4c4e-9a61-3c2f1d9e8b70', 'content-length': '412' },
      body: { transaction: { id: 'tx_8f3a2c', amount: 129.95, currency: 'EUR', merchant: { id: 'm_2231', mcc: '5411', country: 'DE' }, card: { bin: '411111', last4: '1111', network: 'visa' }, device: { ip: '203.0.113.7', fingerprint: 'a3f9c2e1d4b5a6978877665544332211' }, timestamp: '2026-11-23T09:15:00Z' }, features: { velocity_1h: 3, velocity_24h: 11, avg_amount_30d: 64.2, new_merchant: true } },
      body_bytes: 412,
    },
    route: { name: 'fraud-model' },
    usage: { requests_last_minute: 7 },
    approval: null,
    grants: [],
    time: { now_ns: 1_795_000_000_000_000_000 },
  };
}
