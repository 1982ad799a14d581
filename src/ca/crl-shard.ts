/*
 * CRL shards (after Boulder's crl-updater): past one CRL's worth of
 * revocations, the issuer publishes N smaller CRLs, and every certificate
 * names, in its CRL Distribution Points extension, the one shard that will
 * list it. keysmith derives the shard from the serial (serials are random:
 * the shards fill evenly), so no column records it and any process can find
 * it again; the price is that the shard count is fixed for the certificates
 * already issued (README, "CRL").
 */

/** More shards than this is a misconfiguration: each is a signed file fetched separately. */
export const MAX_CRL_SHARDS = 256;

/** The shard (0..shardCount-1) of a certificate: its serial's last 32 bits modulo the count. */
export function crlShardOf(serial: string, shardCount: number): number {
  if (!Number.isSafeInteger(shardCount) || shardCount < 1 || shardCount > MAX_CRL_SHARDS)
    throw new Error(`the CRL shard count must be 1..${MAX_CRL_SHARDS}`);
  if (shardCount === 1) return 0;
  const tail = Number.parseInt(serial.slice(-8), 16);
  if (!Number.isSafeInteger(tail)) throw new Error(`serial ${serial} is not hex`);
  return tail % shardCount;
}

/** The distribution point of shard `shard` under the CRL URL: `<crlUrl>/<shard>`. */
export function crlShardUrl(crlUrl: string, shard: number): string {
  return `${crlUrl.replace(/\/$/, '')}/${shard}`;
}

/**
 * The CRL URL of one intermediate's leaves (RFC 5280 §5: one CRL per
 * issuer). The original intermediate keeps `<crlUrl>` (what its leaves have
 * always named); each rotated one has its own, `<crlUrl>/issuer/<serial>`,
 * so a relying party never fetches a CRL signed by another CA than its leaf's.
 */
export function issuerCrlUrl(crlUrl: string, intermediate: { readonly serial?: string; readonly isOriginal?: boolean }): string {
  const base = crlUrl.replace(/\/$/, '');
  if (intermediate.isOriginal !== false || intermediate.serial === undefined) return base;
  return `${base}/issuer/${intermediate.serial}`;
}
