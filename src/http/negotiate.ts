/**
 * A small Accept negotiation (RFC 9110 §12.5.1): the offer with the highest
 * q-value wins, ties go to the earlier offer, and when nothing matches the
 * first offer (the route's default) is served rather than a 406.
 */

interface MediaRange {
  readonly type: string;
  readonly subtype: string;
  readonly q: number;
}

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [range = '', ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    const [type, subtype] = range.split('/');
    if (type === undefined || subtype === undefined || type === '' || subtype === '') continue;
    let q = 1;
    for (const param of params) {
      const [name, value] = param.split('=').map((s) => s.trim());
      if (name === 'q' && value !== undefined) {
        const parsed = Number(value);
        if (Number.isFinite(parsed)) q = Math.min(1, Math.max(0, parsed));
      }
    }
    ranges.push({ type, subtype, q });
  }
  return ranges;
}

/** The q-value the most specific matching range gives `offer` (RFC 9110 §12.5.1: more specific ranges override). */
function qualityOf(offer: string, ranges: readonly MediaRange[]): number {
  const [type, subtype] = offer.toLowerCase().split('/');
  let best = -1;
  let specificity = -1;
  for (const range of ranges) {
    const matches = (range.type === '*' || range.type === type) && (range.subtype === '*' || range.subtype === subtype);
    if (!matches) continue;
    const rank = (range.type === '*' ? 0 : 1) + (range.subtype === '*' ? 0 : 1);
    if (rank > specificity) {
      specificity = rank;
      best = range.q;
    }
  }
  return best;
}

export function negotiate<const T extends string>(accept: string | undefined, offers: readonly [T, ...T[]]): T {
  const [fallback] = offers;
  if (accept === undefined || accept.trim() === '') return fallback;
  const ranges = parseAccept(accept);
  let chosen = fallback;
  let chosenQ = 0;
  for (const offer of offers) {
    const q = qualityOf(offer, ranges);
    if (q > chosenQ) {
      chosen = offer;
      chosenQ = q;
    }
  }
  return chosen;
}
