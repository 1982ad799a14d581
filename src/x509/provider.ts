// reflect-metadata must be evaluated before @peculiar/x509 (its DI container needs the polyfill).
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as peculiar from '@peculiar/x509';

/*
 * Every file in src/x509 reaches @peculiar/x509 through this module, so the
 * provider is set exactly once and before first use. Node's built-in WebCrypto,
 * not @peculiar/webcrypto: its ECDSA signing is ~7x faster (PERF-NOTES.md).
 */
peculiar.cryptoProvider.set(webcrypto);

export { peculiar };
export const subtle = webcrypto.subtle;
