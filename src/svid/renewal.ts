import { randomInt } from 'node:crypto';

/** A uniform number in [0, 1); injectable so tests can pin the jitter. */
export type UnitRandom = () => number;

const RANDOM_STEPS = 2 ** 32;

export const cryptoUnitRandom: UnitRandom = () => randomInt(0, RANDOM_STEPS) / RANDOM_STEPS;

/** ±10%: spreads the renewals of SVIDs issued together, so they do not return together. */
export const RENEWAL_JITTER = 0.1;

/**
 * When the holder should renew: halfway through the usable lifetime (from
 * issuance, not the backdated notBefore, so a short SVID never has its
 * renewal time in the past), scaled by 1 + uniform(-0.1, 0.1).
 */
export function renewAfter(issuedAt: number, notAfter: number, random: UnitRandom): number {
  const lifetime = Math.max(0, notAfter - issuedAt);
  const unit = random();
  if (!(unit >= 0 && unit < 1)) throw new RangeError('random() must return a number in [0, 1)');
  const factor = 1 + (2 * unit - 1) * RENEWAL_JITTER;
  return issuedAt + Math.round((lifetime / 2) * factor);
}
