import { createPublicKey, generateKeyPair, webcrypto, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import { FIRST_JWT_KEY_FILE } from './jwt-schedule.js';
import { exportPrivateKey, fixMode, readPrivateKey, syncDirectory, writeDurably } from './key-files.js';
import type { JwtAuthorityJwk } from '../domain/jwt-keys.js';

/** The JWT-SVID claims keysmith signs (SPIFFE JWT-SVID §3): times in whole seconds since the epoch. */
export interface JwtSvidClaims {
  readonly sub: string;
  readonly aud: readonly string[];
  readonly iat: number;
  readonly exp: number;
}

/** The public half as the SPIFFE bundle carries it (src/domain/jwt-keys.ts). */
export type JwtAuthorityPublicJwk = JwtAuthorityJwk;

export interface JwtAuthorityOptions {
  readonly dataDir: string;
  /** Encrypts the key file, like the CA keys (KEYSMITH_CA_PASSPHRASE). */
  readonly passphrase?: string;
  /** Problems that do not stop loading: a loose file mode (fixed), an unencrypted key despite a passphrase. */
  readonly onWarning?: (message: string) => void;
}

const generateEcKeyPair = promisify(generateKeyPair);
let stagingCount = 0;

/** Where the JWT signing key lives: beside the CA keys, `<dataDir>/ca/jwt-signing-key.pem`, mode 0600. */
export function jwtSigningKeyPath(dataDir: string): string {
  return join(dataDir, 'ca', FIRST_JWT_KEY_FILE);
}

/**
 * The JWT-SVID signing key: one ES256 key, loaded from the data directory or
 * created there on first use. Its `kid` is the RFC 7638 thumbprint of the
 * public key, so it is stable across restarts and names the key exactly.
 */
export class JwtAuthority {
  readonly kid: string;
  private readonly signingKey: webcrypto.CryptoKey;
  private readonly publicKeyJwk: JwtAuthorityPublicJwk;

  private constructor(kid: string, signingKey: webcrypto.CryptoKey, publicJwk: JwtAuthorityPublicJwk) {
    this.kid = kid;
    this.signingKey = signingKey;
    this.publicKeyJwk = publicJwk;
  }

  /** Loads the key, or creates it when the file is absent. Throws a plain Error naming the problem. */
  static async loadOrCreate(options: JwtAuthorityOptions): Promise<JwtAuthority> {
    if (options.passphrase === '') throw new Error('the JWT signing key passphrase is set but empty');
    const path = jwtSigningKeyPath(options.dataDir);
    if (!existsSync(path)) await createKeyFile(path, options.passphrase);
    return JwtAuthority.load(path, options.passphrase, options.onWarning ?? ((): void => undefined));
  }

  /** Loads one key file (mode fixed to 0600 with a warning); throws a plain Error naming the file. */
  static async load(path: string, passphrase: string | undefined, warn: (message: string) => void): Promise<JwtAuthority> {
    return JwtAuthority.fromPrivateKey(readJwtKey(path, passphrase, warn));
  }

  /**
   * A key re-imported from PEM, or one from the asynchronous generateKeyPair; never one from
   * generateKeyPairSync: JWK export of the latter can hang Node 20 (PERF-NOTES.md).
   */
  static async fromPrivateKey(privateKey: KeyObject): Promise<JwtAuthority> {
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.x !== 'string' || typeof jwk.y !== 'string') {
      throw new Error('the JWT signing key is not an EC P-256 key');
    }
    // RFC 7638 §3: the thumbprint covers only the required members crv, kty, x, y.
    const kid = await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y }, 'sha256');
    const der = privateKey.export({ type: 'pkcs8', format: 'der' });
    const signingKey = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    return new JwtAuthority(kid, signingKey, { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, use: 'jwt-svid' });
  }

  /** A compact JWS with header { alg: 'ES256', kid, typ: 'JWT' } over exactly the given claims. */
  async sign(claims: JwtSvidClaims): Promise<string> {
    if (claims.sub.length === 0) throw new Error('a JWT-SVID needs a subject');
    // JWT-SVID §3.2: aud MUST be present with at least one value.
    if (claims.aud.length === 0) throw new Error('a JWT-SVID needs at least one audience');
    if (!Number.isSafeInteger(claims.iat) || !Number.isSafeInteger(claims.exp) || claims.exp <= claims.iat) {
      throw new Error('a JWT-SVID needs integer iat and exp, exp after iat');
    }
    return new SignJWT({ sub: claims.sub, aud: [...claims.aud], iat: claims.iat, exp: claims.exp })
      .setProtectedHeader({ alg: 'ES256', kid: this.kid, typ: 'JWT' })
      .sign(this.signingKey);
  }

  publicJwk(): JwtAuthorityPublicJwk {
    return this.publicKeyJwk;
  }

  /** The keys a relying party needs: this one alone (JwtKeyRing publishes several during a rotation). */
  publishedJwks(): readonly JwtAuthorityPublicJwk[] {
    return [this.publicKeyJwk];
  }
}

/** A new P-256 key from the asynchronous generator (safe to export as JWK, PERF-NOTES.md). */
export async function generateJwtKey(): Promise<KeyObject> {
  const { privateKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' });
  return privateKey;
}

// ---------------------------------------------------------------- files

/**
 * Writes a new key to a staging file and links it into place: the key file
 * appears whole or not at all, and if another process made one first, theirs wins.
 */
async function createKeyFile(path: string, passphrase: string | undefined): Promise<void> {
  const dir = join(path, '..');
  // Making <dataDir>/ca here would look like a half-created CA to initCertificateAuthority: the CA comes first.
  if (!existsSync(dir)) throw new Error(`no CA in ${dir}: create the CA before the JWT signing key`);
  // If another process linked its key first, theirs wins and is what load() reads.
  linkKeyFile(path, exportPrivateKey(await generateJwtKey(), passphrase));
}

/**
 * Writes `pem` to a staging file (fsynced, 0600) and links it to `path`: the
 * key file appears whole or not at all. false when `path` already existed
 * (another process made it first; theirs wins).
 */
export function linkKeyFile(path: string, pem: string): boolean {
  const dir = dirname(path);
  const staging = join(dir, `.${basename(path)}.${process.pid}.${++stagingCount}`);
  rmSync(staging, { force: true });
  let isLinked = true;
  try {
    writeDurably(staging, pem, 0o600);
    try {
      linkSync(staging, path);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      isLinked = false;
    }
  } finally {
    rmSync(staging, { force: true });
  }
  syncDirectory(dir);
  return isLinked;
}

function isAlreadyExists(err: unknown): boolean {
  return err instanceof Error && 'code' in err && err.code === 'EEXIST';
}

function readJwtKey(path: string, passphrase: string | undefined, warn: (message: string) => void): KeyObject {
  fixMode(path, 0o600, warn);
  return readPrivateKey(path, passphrase, 'JWT signing key', warn);
}
