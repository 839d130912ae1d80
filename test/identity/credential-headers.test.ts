import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { AmbiguousCredentialsError, refuseRepeatedCredentials } from '../../src/identity/index.js';

/** The obvious reference: count each credential header's names, case-insensitively. */
function repeatedReference(raw: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
    if ((name === 'authorization' || name === 'x-api-key') && counts.get(name)! > 1) return name;
  }
  return undefined;
}

function verdict(raw: string[]): string | undefined {
  try {
    refuseRepeatedCredentials(raw);
    return undefined;
  } catch (err) {
    assert.instance(err, AmbiguousCredentialsError);
    const e = err as AmbiguousCredentialsError;
    assert.is(e.status, 400);
    assert.is(e.code, 'ERR_AMBIGUOUS_CREDENTIALS');
    return /Authorization/.test(e.message) ? 'authorization' : 'x-api-key';
  }
}

test('two Authorization headers, in any letter case, are refused; one each of Authorization and x-api-key is not', () => {
  assert.is(verdict(['Authorization', 'Bearer a', 'Host', 'x', 'authorization', 'Bearer b']), 'authorization');
  assert.is(verdict(['X-API-KEY', 'k1', 'x-api-key', 'k2']), 'x-api-key');
  assert.is(verdict(['authorization', 'Bearer a', 'x-api-key', 'k']), undefined);
  assert.is(verdict([]), undefined);
});

test('property: refuses exactly when the reference finds a repeated credential header', () => {
  const name = fc.oneof(
    fc.constantFrom('authorization', 'Authorization', 'AUTHORIZATION', 'x-api-key', 'X-Api-Key', 'host', 'authorizatio', 'x-api-keys', 'content-type'),
    fc.string({ maxLength: 14 }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(name, fc.string({ maxLength: 8 })), { maxLength: 12 }), (pairs) => {
      const raw = pairs.flat();
      assert.is(verdict(raw), repeatedReference(raw));
    }),
    { numRuns: 5000 },
  );
});

test.run();
