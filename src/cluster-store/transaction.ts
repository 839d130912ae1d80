/**
 * One transaction on a pooled connection: begin, run, commit; on failure roll back and hand the
 * connection back marked broken if even the rollback failed (so the pool drops it instead of
 * lending out a connection stuck in an aborted transaction). `fail` turns what went wrong into the
 * caller's typed error (a driver failure is the store being unavailable; a refusal passes through).
 */
import type pg from 'pg';

export async function inTransaction<T>(pool: pg.Pool, begin: string, fn: (client: pg.PoolClient) => Promise<T>, fail: (err: unknown) => Error): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw fail(err);
  }
  let broken = false;
  try {
    await client.query(begin);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw fail(err);
  } finally {
    client.release(broken);
  }
}
