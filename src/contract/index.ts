/**
 * The contract every stage shares: who is asking (`Identity`), what the policy is asked
 * (`PolicyInput`) and answers (`Decision`, its mask rules and hold spec), and the hold/grant
 * events the holds stage reports and the audit log stores. Types only, no behaviour, so any
 * folder may import it without pulling in a stage.
 */
export type * from './types.js';
