/**
 * Times as keysmith's JSON writes them, on the HTTP API, in alert messages
 * and in the CLI's --json: RFC 3339 in UTC with milliseconds, exactly what
 * Date.prototype.toISOString gives.
 */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** isoTime, with null for a time that has not happened (a certificate not revoked, a token not used). */
export function isoTimeOrNull(ms: number | null): string | null {
  return ms === null ? null : isoTime(ms);
}
