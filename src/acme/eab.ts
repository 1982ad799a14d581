/**
 * External Account Binding (RFC 8555 §7.3.4): an admin makes a MAC key
 * (`keysmith acme eab create`), the client signs its account key with it in
 * newAccount, and the key is then bound to that one account for good.
 */
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, flattenedVerify } from 'jose';
import { z } from 'zod';
import type { Clock } from '../shared/clock.js';
import type { AcmeEabKeyRecord } from '../domain/acme.js';
import { canonicalJwk, parseJson, type AccountKey } from './jws.js';
import type { AcmeEabKeyStore } from './ports.js';
import { AcmeProblemError } from './problems.js';

const EAB_KEY_BYTES = 32;
const EAB_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

/**
 * Makes and stores a new EAB key. The returned HMAC key is shown once to the
 * operator; it is stored because every binding must be checked against it.
 */
export async function createEabKey(
  eabKeys: Pick<AcmeEabKeyStore, 'createEabKey'>,
  clock: Clock,
  createdBy = 'cli',
  random: (length: number) => Uint8Array = (length) => randomBytes(length),
): Promise<{ keyId: string; hmacKey: string }> {
  const keyId = `eab-${Buffer.from(random(12)).toString('base64url')}`;
  const hmacKey = Uint8Array.from(random(EAB_KEY_BYTES));
  const record: AcmeEabKeyRecord = {
    keyId,
    hmacKey,
    createdAt: clock.now(),
    createdBy,
    boundAccount: null,
    boundAt: null,
    revokedAt: null,
  };
  await eabKeys.createEabKey(record);
  return { keyId, hmacKey: Buffer.from(hmacKey).toString('base64url') };
}

const EabJwsSchema = z.strictObject({
  protected: z.string().min(1).max(4096),
  payload: z.string().min(1).max(8192),
  signature: z.string().min(1).max(1024),
});

const EabHeaderSchema = z.object({
  alg: z.string(),
  kid: z.string().min(1).max(256),
  url: z.string(),
  nonce: z.unknown().optional(),
});

/**
 * Checks the binding inside a newAccount payload and returns the EAB key id
 * it names. The account is created and the key bound in one store transaction
 * afterwards, so a key used twice loses there (conflict).
 */
export async function verifyExternalAccountBinding(
  eabKeys: Pick<AcmeEabKeyStore, 'findEabKey'>,
  binding: unknown,
  accountKey: AccountKey,
  newAccountUrl: string,
): Promise<string> {
  const jws = EabJwsSchema.safeParse(binding);
  if (!jws.success) throw new AcmeProblemError('malformed', 'externalAccountBinding must be a flattened JWS');
  const header = parseJson(
    Buffer.from(jws.data.protected, 'base64url').toString('utf8'),
    EabHeaderSchema,
    'externalAccountBinding protected header',
  );
  // RFC 8555 §7.3.4: a MAC algorithm, the key identifier, the newAccount URL, and no nonce.
  const alg = EAB_ALGORITHMS.find((known) => known === header.alg);
  if (alg === undefined) {
    throw new AcmeProblemError('badSignatureAlgorithm', 'externalAccountBinding must use HS256, HS384 or HS512', {
      extra: { algorithms: [...EAB_ALGORITHMS] },
    });
  }
  if (header.nonce !== undefined) throw new AcmeProblemError('malformed', 'externalAccountBinding must not carry a nonce');
  if (header.url !== newAccountUrl) throw new AcmeProblemError('unauthorized', 'externalAccountBinding url must be the newAccount URL');

  const key = await eabKeys.findEabKey(header.kid);
  if (key === undefined) throw new AcmeProblemError('unauthorized', 'externalAccountBinding names an unknown key id');
  // A revoked key binds no new account (`keysmith acme eab revoke`); the bind in the store re-checks it under the row lock.
  if (key.revokedAt !== null) throw new AcmeProblemError('unauthorized', 'this external account key has been revoked');
  if (key.boundAccount !== null) throw new AcmeProblemError('unauthorized', 'this external account key is already bound to an account');

  let payload: Uint8Array;
  try {
    ({ payload } = await flattenedVerify(jws.data, key.hmacKey, { algorithms: [alg] }));
  } catch (cause) {
    throw new AcmeProblemError('unauthorized', 'externalAccountBinding MAC does not verify', { cause });
  }
  // The MAC'd payload is the account key (RFC 8555 §7.3.4): compare by thumbprint.
  const signedJwk = parseJson(Buffer.from(payload).toString('utf8'), z.record(z.string(), z.unknown()), 'externalAccountBinding payload');
  const signedThumbprint = await calculateJwkThumbprint({ ...canonicalJwk(signedJwk) }, 'sha256');
  if (signedThumbprint !== accountKey.thumbprint) {
    throw new AcmeProblemError('unauthorized', 'externalAccountBinding payload is not the account key');
  }
  return key.keyId;
}
