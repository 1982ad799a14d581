import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ExtensionType } from '../../../../src/tls/codec/enums.js';
import type { RawExtension } from '../../../../src/tls/codec/extensions.js';
import type { ClientHello } from '../../../../src/tls/codec/messages/client-hello.js';
import { chooseVersion } from '../../../../src/tls/handshake/server/client-offer.js';
import { decodeServerSessionState, encodeServerSessionState } from '../../../../src/tls/tickets.js';
import { decodeTls12SessionState, encodeTls12SessionState, type Tls12SessionState } from '../../../../src/tls/tickets12.js';
import type { TlsVersionName } from '../../../../src/tls/options.js';
import { assertAlert } from '../messages/codec-properties.js';

function hello(legacyVersion: number, versions: readonly number[] | undefined): ClientHello {
  const extensions: RawExtension[] = [];
  if (versions !== undefined) {
    const data = Buffer.alloc(1 + 2 * versions.length);
    data[0] = 2 * versions.length;
    versions.forEach((v, i) => data.writeUInt16BE(v, 1 + 2 * i));
    extensions.push({ type: ExtensionType.supported_versions, data });
  }
  return {
    legacyVersion,
    random: Buffer.alloc(32),
    legacySessionId: Buffer.alloc(0),
    cipherSuites: [0xc02b],
    legacyCompressionMethods: Buffer.of(0),
    extensions,
  };
}

const BOTH = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' } as const;
const ONLY13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
const ONLY12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;

describe('server version selection (RFC 8446 §4.2.1, §D.2)', () => {
  const cases: readonly [
    string,
    ClientHello,
    { minVersion: TlsVersionName; maxVersion: TlsVersionName },
    TlsVersionName | 'protocol_version',
  ][] = [
    ['1.3 and 1.2 offered, both enabled: 1.3', hello(0x0303, [0x0304, 0x0303]), BOTH, 'TLSv1.3'],
    ['1.3 and 1.2 offered, maxVersion 1.2: 1.2', hello(0x0303, [0x0304, 0x0303]), ONLY12, 'TLSv1.2'],
    ['no supported_versions, legacy 0x0303: 1.2', hello(0x0303, undefined), BOTH, 'TLSv1.2'],
    ['supported_versions with 0x0303 only: 1.2', hello(0x0303, [0x0303]), BOTH, 'TLSv1.2'],
    ['no supported_versions, legacy 0x0303, minVersion 1.3', hello(0x0303, undefined), ONLY13, 'protocol_version'],
    ['TLS 1.1 client (legacy 0x0302, no extension)', hello(0x0302, undefined), BOTH, 'protocol_version'],
    ['supported_versions with 1.1 and 1.0 only', hello(0x0303, [0x0302, 0x0301]), BOTH, 'protocol_version'],
    ['only 1.3 offered to a 1.2-only server', hello(0x0303, [0x0304]), ONLY12, 'protocol_version'],
    ['legacy 0x0300 even with 1.3 offered (§D.5)', hello(0x0300, [0x0304]), BOTH, 'protocol_version'],
  ];
  for (const [name, h, versions, expected] of cases) {
    it(name, () => {
      if (expected === 'protocol_version') assertAlert(() => chooseVersion(h, versions), 'protocol_version');
      else assert.equal(chooseVersion(h, versions), expected);
    });
  }
});

describe('ticket states are tagged by version: a ticket resumes only the version it came from', () => {
  const state12: Tls12SessionState = {
    suite: 0xc02b,
    masterSecret: Buffer.alloc(48, 1),
    createdAt: 1_800_000_000_000,
    lifetimeSeconds: 7200,
    alpn: 'http/1.1',
    servername: 'localhost',
    peerChain: [Buffer.from('3082', 'hex')],
  };
  const state13 = encodeServerSessionState({
    suite: 0x1301,
    psk: Buffer.alloc(32, 2),
    createdAt: 1_800_000_000_000,
    ageAdd: 5,
    lifetimeSeconds: 7200,
    alpn: '',
    servername: '',
    peerChain: [],
  });

  it('round-trips a TLS 1.2 state, master secret, ALPN and peer chain included', () => {
    assert.deepEqual(decodeTls12SessionState(encodeTls12SessionState(state12)), state12);
    assert.equal(encodeTls12SessionState(state12)[0], 0x12);
  });

  it('the TLS 1.3 decoder refuses a TLS 1.2 state, and the TLS 1.2 decoder a TLS 1.3 one (decode_error, so resumption falls back)', () => {
    assertAlert(() => decodeServerSessionState(encodeTls12SessionState(state12)), 'decode_error');
    assertAlert(() => decodeTls12SessionState(state13), 'decode_error');
  });
});
