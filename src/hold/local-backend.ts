/**
 * The single-node hold backend: this machine's LMDB hold store. Mutations need no lock of their
 * own (the holds service runs them one at a time, and only the primary process writes), a use is
 * free while the stored hold records none, and no other node changes anything.
 */
import type { HoldBackend, HoldWriter, RemoteChange } from './backend.js';
import { HoldStore } from './store.js';
import type { Grant, Hold } from './types.js';

export class LocalHoldBackend implements HoldBackend {
  private constructor(private readonly store: HoldStore) {}

  static open(dir: string): LocalHoldBackend {
    const store = HoldStore.open(dir);
    store.indexSubjects();
    return new LocalHoldBackend(store);
  }

  get index(): HoldStore {
    return this.store;
  }

  async mutate<T>(fn: (w: HoldWriter) => Promise<T>): Promise<T> {
    const store = this.store;
    return fn({
      getHold: async (id) => store.getHold(id),
      getGrant: async (id) => store.getGrant(id),
      putHold: async (hold) => store.putHold(hold),
      putGrant: async (grant, hold) => store.putGrant(grant, hold),
      // Free while the stored hold records no use; the service records the use in the hold in
      // the same serialised step, so the next claim finds it taken.
      claimUse: async (holdId) => {
        const hold = store.getHold(holdId);
        return hold !== undefined && !hold.delivered && hold.replayed_at_ms === null;
      },
    });
  }

  async getHold(id: string): Promise<Hold | undefined> {
    return this.store.getHold(id);
  }

  async getGrant(id: string): Promise<Grant | undefined> {
    return this.store.getGrant(id);
  }

  async allHolds(): Promise<Hold[]> {
    return this.store.allHolds();
  }

  async allGrants(): Promise<Grant[]> {
    return this.store.allGrants();
  }

  async pendingHolds(): Promise<Hold[]> {
    return this.store.allHolds().filter((h) => h.state === 'pending');
  }

  onRemoteChange(_listener: (change: RemoteChange) => void): () => void {
    return () => undefined;
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
