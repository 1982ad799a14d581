/** How the console writes times and names: UTC always, as the API and the ledger do. */

/** 2026-12-07 14:05 UTC */
export function dateTime(iso: string | null): string {
  if (iso === null) return '—';
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
}

/** 2026-12-07 */
export function day(iso: string): string {
  return iso.slice(0, 10);
}

/** The UTC day after `date` (YYYY-MM-DD), as YYYY-MM-DD. */
export function nextDay(date: string): string {
  return new Date(Date.parse(`${date}T00:00:00.000Z`) + 86_400_000).toISOString().slice(0, 10);
}

/** A certificate's owner at a glance: its SPIFFE ID, else its DNS names, else its subject. */
export function identityOf(cert: {
  readonly spiffe_id: string | null;
  readonly dns_names: readonly string[];
  readonly subject: string;
}): string {
  if (cert.spiffe_id !== null) return cert.spiffe_id;
  if (cert.dns_names.length > 0) return cert.dns_names.join(', ');
  return cert.subject;
}

export function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
