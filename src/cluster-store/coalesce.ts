/**
 * One run at a time of a catch-up step (read the change feed, publish the audit backlog): calls
 * made while it runs share that run and cause exactly one more after it, so a burst of wake-ups
 * (notifications, seals, timers) costs at most two runs and nothing that arrived is left unread.
 */
export function coalesced(step: () => Promise<void>, stopped: () => boolean = () => false): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await step();
        } while (again && !stopped());
      } finally {
        running = null;
      }
    })();
    return running;
  };
}
