/** Every record of a gateway's audit log (its `audit` folder), read from a stopped gateway's store. */
import { openStore, parseRecord, type AuditRecord } from '../../src/audit/index.js';

export async function auditRecords(auditDir: string): Promise<AuditRecord[]> {
  const store = openStore(auditDir, { readOnly: true });
  try {
    return [...store.records.getRange()].map(({ value }) => {
      const r = parseRecord(value);
      if (typeof r === 'string') throw new Error(`record unreadable: ${r}`);
      return r;
    });
  } finally {
    await store.env.close();
  }
}
