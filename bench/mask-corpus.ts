/**
 * Leak and over-mask counts over the masking corpus (test/mask/corpus.ts), for docs/masking.md:
 * every issuer row × length × prefix × grouping × separator (leaks: a case whose output shows more
 * than its last four digits), and each near-miss class under `pan` and `pan_any` (over-masks: a
 * case whose text the masker changed). The corpus is seeded, so the counts are reproducible.
 */
import { compileMaskPlan, maskText } from '../src/mask/index.js';
import { CORPUS_SEPARATORS, corpusPans, groupings, nearMisses, printed } from '../test/mask/corpus.js';
import { report, type Row } from './lib/report.js';

const plans = { pan: compileMaskPlan([{ detector: 'pan', format: 'last4' }]), pan_any: compileMaskPlan([{ detector: 'pan_any', format: 'last4' }]) };
const rows: Row[] = [];

for (const [mode, plan] of Object.entries(plans)) {
  let cases = 0;
  let leaks = 0;
  let maestro12 = 0;
  let maestro12Leaks = 0;
  for (const pan of corpusPans()) {
    for (const sizes of groupings(pan.digits.length)) {
      for (const sep of CORPUS_SEPARATORS) {
        const out = maskText(plan, `card ${printed(pan.digits, sizes, sep)} ok`).text;
        const leaked = out.replace(/\D/g, '') !== pan.digits.slice(-4);
        if (pan.digits.length === 12) {
          maestro12++;
          if (leaked) maestro12Leaks++;
        } else {
          cases++;
          if (leaked) leaks++;
        }
      }
    }
  }
  rows.push({ mode, class: 'issuer PANs of 13–19 digits (every row × length × prefix × grouping × separator)', cases, 'leaked / masked': leaks, rate: leaks / cases });
  rows.push({ mode, class: '12-digit Maestro (same variations)', cases: maestro12, 'leaked / masked': maestro12Leaks, rate: maestro12Leaks / maestro12 });
  for (const [name, samples] of Object.entries(nearMisses(2000))) {
    const masked = samples.filter((s) => maskText(plan, `x ${s} y`).text !== `x ${s} y`).length;
    rows.push({ mode, class: name, cases: samples.length, 'leaked / masked': masked, rate: masked / samples.length });
  }
}
report('mask-corpus', rows);
