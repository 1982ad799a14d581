/**
 * HTTP caching of OCSP responses and CRLs (RFC 5019 §6.2, RFC 9110 §13):
 * headers from the response's own dates, If-None-Match, 304.
 */
import type { FastifyReply } from 'fastify';

export interface CacheDates {
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly etag: string;
}

/** HTTP-dates of each response or CRL, formatted once: a cached response is sent thousands of times. */
const httpDates = new WeakMap<CacheDates, { readonly lastModified: string; readonly expires: string }>();

/** RFC 5019 §6.2: Cache-Control from the seconds left to nextUpdate; Last-Modified is thisUpdate, Expires nextUpdate. */
export function setCacheHeaders(reply: FastifyReply, facts: CacheDates, now: number): void {
  let dates = httpDates.get(facts);
  if (dates === undefined) {
    dates = { lastModified: new Date(facts.thisUpdate).toUTCString(), expires: new Date(facts.nextUpdate).toUTCString() };
    httpDates.set(facts, dates);
  }
  const maxAge = Math.max(0, Math.floor((facts.nextUpdate - now) / 1000));
  reply.header('cache-control', `max-age=${maxAge}, public, no-transform, must-revalidate`);
  reply.header('last-modified', dates.lastModified);
  reply.header('expires', dates.expires);
  reply.header('etag', facts.etag);
}

/** The bytes as a Buffer for reply.send, without copying when they already are one. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** RFC 9110 §13.1.2: If-None-Match compares weakly; `*` matches any current representation. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || opaque(tag) === opaque(etag);
  });
}

/** RFC 9110 §15.4.5: 304 carries the validators and cache headers already set, and no body. (Not in the route schemas: it has no body to describe.) */
export function notModified(reply: FastifyReply): FastifyReply {
  return reply.code(304).send();
}
