import type { ValidationErrorType, ValidationOutcome } from './types.js';

export const PASSED: ValidationOutcome = Object.freeze({ ok: true });

export function failed(type: ValidationErrorType, detail: string): ValidationOutcome {
  return { ok: false, error: { type, detail } };
}

/**
 * Text a validation target sent us, made safe to quote in a problem
 * document: cut to `max` characters, control characters escaped by JSON.
 */
export function quote(text: string, max = 64): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return JSON.stringify(cut);
}

/** The `code` of a node:net / node:dns error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}
