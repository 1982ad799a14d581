/**
 * The short-connection bench's fleet: N distinct client identities (own
 * P-256 key, own leaf with one SPIFFE ID), issued by the test intermediate
 * so both servers verify them against test/fixtures/ca.pem. Serials follow
 * from the index, so the server child knows the fleet's serials without
 * being sent them (its certificate reader answers "valid" for exactly those).
 */
import { generateKeyPairSync, webcrypto } from 'node:crypto';
import { fromPem, issuerFromCertificate, prepareCertificate, signCertificate, toPem } from '../../src/x509/index.js';
import { fixture } from './protocol.js';

export const FLEET_TRUST_DOMAIN = 'keysmith.local';
/** Above every serial the fixtures use; 9 octets, positive (RFC 5280 §4.1.2.2). */
const SERIAL_BASE = 0x5e00000000000000n;

export function fleetSerial(index: number): string {
  return (SERIAL_BASE + BigInt(index)).toString(16);
}

export function fleetSpiffeId(index: number): string {
  return `spiffe://${FLEET_TRUST_DOMAIN}/workload/fleet-${index}`;
}

export interface FleetIdentity {
  readonly key: string;
  /** Leaf then the intermediate, PEM. */
  readonly chain: string;
  readonly serial: string;
}

export async function issueFleet(size: number): Promise<FleetIdentity[]> {
  const intermediatePem = fixture('intermediate.pem');
  const intermediateDer = fromPem(intermediatePem, 'CERTIFICATE');
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    fromPem(fixture('intermediate.key'), 'PRIVATE KEY'),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  const issuer = issuerFromCertificate(intermediateDer, signingKey);
  const notBefore = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
  const fleet: FleetIdentity[] = [];
  for (let i = 0; i < size; i++) {
    // PEM and SPKI DER only: never the JWK export path (PERF-NOTES: it can hang on generateKeyPairSync keys).
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const serial = fleetSerial(i);
    const prepared = prepareCertificate(
      {
        serial,
        subject: [{ type: 'CN', value: `fleet-${i}` }],
        notBefore,
        notAfter: notBefore + 48 * 3_600_000,
        publicKey: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })),
        basicConstraints: { ca: false },
        keyUsage: ['digitalSignature'],
        extendedKeyUsage: ['clientAuth'],
        subjectAltNames: [{ type: 'uri', value: fleetSpiffeId(i) }],
      },
      issuer,
    );
    const der = await signCertificate(prepared);
    fleet.push({
      key: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      chain: `${toPem(der, 'CERTIFICATE')}${intermediatePem}`,
      serial,
    });
  }
  return fleet;
}
