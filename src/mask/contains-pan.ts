/**
 * A leak check for audit and tests: does this text still hold a brand- and Luhn-valid PAN, by the
 * same rules the `pan` detector masks with?
 */
import { compileMaskPlan, maskText } from './plan.js';

export function containsPan(text: string): boolean {
  return (maskText(compileMaskPlan([{ detector: 'pan' }]), text).counts.pan ?? 0) > 0;
}
