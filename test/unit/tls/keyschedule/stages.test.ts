import { describe, it } from 'node:test';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';
import { EarlySecret, finishedVerifyData, resumptionPsk, trafficKeys } from '../../../../src/tls/keyschedule/stages.js';
import { deriveSecret, expandLabel, hkdfExpand, hkdfExtract } from '../../../../src/tls/keyschedule/hkdf.js';
import { Transcript } from '../../../../src/tls/keyschedule/transcript.js';
import { Reader } from '../../../../src/tls/codec/reader.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';

/**
 * RFC 8448 §3 (Simple 1-RTT Handshake) and §4 (Resumed 0-RTT Handshake),
 * TLS_AES_128_GCM_SHA256 with x25519, reproduced byte for byte. Every input
 * and every expected value below is read from the pasted RFC text; nothing
 * is compared against bytes this code base produced.
 */

const s3 = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');
const s4 = Rfc8448Trace.load('rfc8448-resumed-0rtt.txt');

const HASH = 'sha256';
const KEY_LENGTH = 16;

// DER framing for raw X25519 keys (RFC 8410 §7, §10.3); structure, not vector data.
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

function x25519PrivateKey(raw: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

function x25519PublicKey(raw: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

function x25519PublicFromPrivate(raw: Uint8Array): Buffer {
  const spki = createPublicKey(x25519PrivateKey(raw)).export({ format: 'der', type: 'spki' });
  return spki.subarray(X25519_SPKI_PREFIX.length);
}

function transcriptOf(...messages: Uint8Array[]): Buffer {
  const t = new Transcript(nodeCryptoProvider, HASH);
  for (const m of messages) t.add(m);
  return t.current();
}

function finishedMessage(verifyData: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(20, 0, 0, verifyData.length), verifyData]);
}

// §3's handshake messages, as the RFC prints them.
const clientHello = s3.bytes('{client}  construct a ClientHello handshake message', 'ClientHello (196 octets)');
const serverHello = s3.bytes('{server}  construct a ServerHello handshake message', 'ServerHello (90 octets)');
const encryptedExtensions = s3.bytes('{server}  construct an EncryptedExtensions handshake message', 'EncryptedExtensions');
const certificate = s3.bytes('{server}  construct a Certificate handshake message', 'Certificate');
const certificateVerify = s3.bytes('{server}  construct a CertificateVerify handshake message', 'CertificateVerify');
const serverFinished = s3.bytes('{server}  construct a Finished handshake message', 'Finished');
const clientFinished = s3.bytes('{client}  construct a Finished handshake message', 'Finished');
const newSessionTicket = s3.bytes('{server}  construct a NewSessionTicket handshake message', 'NewSessionTicket');
const sharedSecret = s3.bytes('{server}  extract secret "handshake"', 'IKM (32 octets)');

// The schedule under test, run once from the RFC's inputs.
const early = new EarlySecret(nodeCryptoProvider, HASH);
const handshake = early.toHandshakeSecret(sharedSecret);
const master = handshake.toMasterSecret();
const hashChSh = transcriptOf(clientHello, serverHello);
const hashChSf = transcriptOf(clientHello, serverHello, encryptedExtensions, certificate, certificateVerify, serverFinished);
const hashChCf = transcriptOf(
  clientHello,
  serverHello,
  encryptedExtensions,
  certificate,
  certificateVerify,
  serverFinished,
  clientFinished,
);

interface TicketFields {
  readonly lifetime: number;
  readonly ageAdd: number;
  readonly nonce: Buffer;
  readonly ticket: Buffer;
  readonly extensions: Buffer;
}

/** NewSessionTicket (RFC 8446 §4.6.1), enough to reach the nonce and the ticket. */
function decodeNewSessionTicket(message: Uint8Array): TicketFields {
  const outer = Reader.of(message);
  assert.equal(outer.u8('msg_type'), 4);
  const body = outer.sub(3, 'NewSessionTicket');
  outer.expectEmpty('handshake message');
  const fields = {
    lifetime: body.u32('ticket_lifetime'),
    ageAdd: body.u32('ticket_age_add'),
    nonce: body.vector(1, 'ticket_nonce'),
    ticket: body.vector(2, 'ticket', 1),
    extensions: body.vector(2, 'extensions'),
  };
  body.expectEmpty('NewSessionTicket');
  return fields;
}

interface OfferedPsk {
  readonly identity: Buffer;
  readonly obfuscatedTicketAge: number;
  readonly binder: Buffer;
  /** Length of the ClientHello up to, not including, the binders list (RFC 8446 §4.2.11.2). */
  readonly truncatedLength: number;
}

/** Walks a ClientHello to its pre_shared_key extension, which must come last (RFC 8446 §4.2.11). */
function findOfferedPsk(message: Buffer): OfferedPsk {
  const r = Reader.of(message);
  assert.equal(r.u8('msg_type'), 1);
  const body = r.sub(3, 'ClientHello');
  body.u16('legacy_version');
  body.bytesN(32, 'random');
  body.vector(1, 'legacy_session_id');
  body.vector(2, 'cipher_suites');
  body.vector(1, 'legacy_compression_methods');
  const extensions = body.sub(2, 'extensions');
  body.expectEmpty('ClientHello');
  const extensionsStart = message.length - extensions.remaining;
  while (!extensions.isEmpty()) {
    const type = extensions.u16('extension_type');
    const dataStart = extensionsStart + extensions.position + 2;
    const data = extensions.sub(2, 'extension_data');
    if (type !== 41) continue;
    assert.ok(extensions.isEmpty(), 'pre_shared_key is the last extension');
    const identities = data.sub(2, 'identities');
    const identity = identities.vector(2, 'identity', 1);
    const obfuscatedTicketAge = identities.u32('obfuscated_ticket_age');
    identities.expectEmpty('identities');
    const truncatedLength = dataStart + data.position;
    const binders = data.sub(2, 'binders');
    const binder = binders.vector(1, 'binder', 32);
    binders.expectEmpty('binders');
    data.expectEmpty('pre_shared_key');
    return { identity, obfuscatedTicketAge, binder, truncatedLength };
  }
  throw new Error('no pre_shared_key extension');
}

describe('RFC 8448 §3 key schedule (simple 1-RTT handshake)', () => {
  it('computes the x25519 shared secret that §3 uses as the handshake IKM', () => {
    const clientPrivate = s3.bytes('{client}  create an ephemeral x25519 key pair', 'private key');
    const clientPublic = s3.bytes('{client}  create an ephemeral x25519 key pair', 'public key');
    const serverPrivate = s3.bytes('{server}  create an ephemeral x25519 key pair', 'private key');
    const serverPublic = s3.bytes('{server}  create an ephemeral x25519 key pair', 'public key');

    assert.deepEqual(x25519PublicFromPrivate(clientPrivate), clientPublic);
    assert.deepEqual(x25519PublicFromPrivate(serverPrivate), serverPublic);
    const serverSide = diffieHellman({ privateKey: x25519PrivateKey(serverPrivate), publicKey: x25519PublicKey(clientPublic) });
    const clientSide = diffieHellman({ privateKey: x25519PrivateKey(clientPrivate), publicKey: x25519PublicKey(serverPublic) });
    assert.deepEqual(serverSide, sharedSecret);
    assert.deepEqual(clientSide, sharedSecret);
  });

  it('extracts the early secret from zero salt and zero IKM as in RFC 8448 §3', () => {
    assert.deepEqual(s3.bytes('{server}  extract secret "early"', 'salt'), Buffer.alloc(0), 'salt is "0 (all zero octets)"');
    assert.deepEqual(s3.bytes('{server}  extract secret "early"', 'IKM (32 octets)'), Buffer.alloc(32));
    assert.deepEqual(early.secret, s3.bytes('{server}  extract secret "early"', 'secret (32 octets)'));
    // §7.1: with no PSK, the IKM is a string of Hash.length zeros, which the trace shows.
    assert.deepEqual(hkdfExtract(nodeCryptoProvider, HASH, Buffer.alloc(32), Buffer.alloc(32)), early.secret);
  });

  it('derives "tls13 derived" for handshake over the empty hash as in RFC 8448 §3', () => {
    const step = '{server}  derive secret for handshake "tls13 derived"';
    assert.deepEqual(s3.bytes(step, 'PRK'), early.secret);
    assert.deepEqual(Transcript.emptyHash(HASH), s3.bytes(step, 'hash'));
    const expected = s3.bytes(step, 'expanded (32 octets)');
    assert.deepEqual(deriveSecret(nodeCryptoProvider, HASH, early.secret, 'derived', Transcript.emptyHash(HASH)), expected);
    // The RFC's HkdfLabel ("info") through the bare HKDF-Expand gives the same octets.
    assert.deepEqual(hkdfExpand(nodeCryptoProvider, HASH, early.secret, s3.bytes(step, 'info (49 octets)'), 32), expected);
  });

  it('extracts the handshake secret from the derived salt and the shared secret as in RFC 8448 §3', () => {
    const step = '{server}  extract secret "handshake"';
    const salt = s3.bytes(step, 'salt (32 octets)');
    assert.deepEqual(salt, s3.bytes('{server}  derive secret for handshake "tls13 derived"', 'expanded'));
    assert.deepEqual(hkdfExtract(nodeCryptoProvider, HASH, salt, sharedSecret), s3.bytes(step, 'secret'));
    assert.deepEqual(handshake.secret, s3.bytes(step, 'secret (32 octets)'));
  });

  it('hashes ClientHello and ServerHello into the transcript hash of RFC 8448 §3', () => {
    assert.deepEqual(hashChSh, s3.bytes('{server}  derive secret "tls13 c hs traffic"', 'hash (32 octets)'));
    assert.deepEqual(hashChSh, s3.bytes('{server}  derive secret "tls13 s hs traffic"', 'hash (32 octets)'));
    assert.deepEqual(
      hashChSh,
      createHash(HASH)
        .update(Buffer.concat([clientHello, serverHello]))
        .digest(),
    );
  });

  it('derives c hs traffic as in RFC 8448 §3', () => {
    const step = '{server}  derive secret "tls13 c hs traffic"';
    assert.deepEqual(s3.bytes(step, 'PRK'), handshake.secret);
    const expected = s3.bytes(step, 'expanded (32 octets)');
    assert.deepEqual(handshake.clientHandshakeTrafficSecret(hashChSh), expected);
    assert.deepEqual(hkdfExpand(nodeCryptoProvider, HASH, handshake.secret, s3.bytes(step, 'info (54 octets)'), 32), expected);
  });

  it('derives s hs traffic as in RFC 8448 §3', () => {
    const step = '{server}  derive secret "tls13 s hs traffic"';
    const expected = s3.bytes(step, 'expanded (32 octets)');
    assert.deepEqual(handshake.serverHandshakeTrafficSecret(hashChSh), expected);
    assert.deepEqual(hkdfExpand(nodeCryptoProvider, HASH, handshake.secret, s3.bytes(step, 'info (54 octets)'), 32), expected);
  });

  it('derives the server handshake write key and IV as in RFC 8448 §3', () => {
    const step = '{server}  derive write traffic keys for handshake data';
    const secret = s3.bytes(step, 'PRK (32 octets)');
    assert.deepEqual(secret, handshake.serverHandshakeTrafficSecret(hashChSh));
    const { key, iv } = trafficKeys(nodeCryptoProvider, HASH, KEY_LENGTH, secret);
    assert.deepEqual(key, s3.bytes(step, 'key expanded (16 octets)'));
    assert.deepEqual(iv, s3.bytes(step, 'iv expanded (12 octets)'));
    assert.deepEqual(hkdfExpand(nodeCryptoProvider, HASH, secret, s3.bytes(step, 'key info (13 octets)'), 16), key);
    assert.deepEqual(hkdfExpand(nodeCryptoProvider, HASH, secret, s3.bytes(step, 'iv info (12 octets)'), 12), iv);
  });

  it('derives the client handshake key and IV (server read keys) as in RFC 8448 §3', () => {
    const step = '{server}  derive read traffic keys for handshake data';
    const secret = s3.bytes(step, 'PRK (32 octets)');
    assert.deepEqual(secret, handshake.clientHandshakeTrafficSecret(hashChSh));
    const { key, iv } = trafficKeys(nodeCryptoProvider, HASH, KEY_LENGTH, secret);
    assert.deepEqual(key, s3.bytes(step, 'key expanded (16 octets)'));
    assert.deepEqual(iv, s3.bytes(step, 'iv expanded (12 octets)'));
  });

  it('computes the server Finished verify_data over ClientHello..CertificateVerify as in RFC 8448 §3', () => {
    const step = '{server}  calculate finished "tls13 finished"';
    const baseKey = s3.bytes(step, 'PRK (32 octets)');
    assert.deepEqual(baseKey, handshake.serverHandshakeTrafficSecret(hashChSh));
    assert.deepEqual(s3.bytes(step, 'hash (0 octets)'), Buffer.alloc(0));
    // finished_key = HKDF-Expand-Label(BaseKey, "finished", "", Hash.length) (RFC 8446 §4.4.4)
    assert.deepEqual(
      expandLabel(nodeCryptoProvider, HASH, baseKey, 'finished', Buffer.alloc(0), 32),
      s3.bytes(step, 'expanded (32 octets)'),
    );
    assert.deepEqual(hkdfExpand(nodeCryptoProvider, HASH, baseKey, s3.bytes(step, 'info (18 octets)'), 32), s3.bytes(step, 'expanded'));
    const transcript = transcriptOf(clientHello, serverHello, encryptedExtensions, certificate, certificateVerify);
    const verifyData = finishedVerifyData(nodeCryptoProvider, HASH, baseKey, transcript);
    assert.deepEqual(verifyData, s3.bytes(step, 'finished (32 octets)'));
    assert.deepEqual(finishedMessage(verifyData), serverFinished);
  });

  it('derives "tls13 derived" for master and the master secret as in RFC 8448 §3', () => {
    const derivedStep = '{server}  derive secret for master "tls13 derived"';
    assert.deepEqual(s3.bytes(derivedStep, 'PRK'), handshake.secret);
    const derived = deriveSecret(nodeCryptoProvider, HASH, handshake.secret, 'derived', Transcript.emptyHash(HASH));
    assert.deepEqual(derived, s3.bytes(derivedStep, 'expanded (32 octets)'));

    const masterStep = '{server}  extract secret "master"';
    assert.deepEqual(s3.bytes(masterStep, 'salt (32 octets)'), derived);
    assert.deepEqual(s3.bytes(masterStep, 'IKM (32 octets)'), Buffer.alloc(32));
    assert.deepEqual(master.secret, s3.bytes(masterStep, 'secret (32 octets)'));
  });

  it('hashes ClientHello..server Finished into the application transcript hash of RFC 8448 §3', () => {
    for (const label of ['c ap traffic', 's ap traffic', 'exp master']) {
      assert.deepEqual(hashChSf, s3.bytes(`{server}  derive secret "tls13 ${label}"`, 'hash (32 octets)'), label);
    }
  });

  it('derives c ap traffic as in RFC 8448 §3', () => {
    const step = '{server}  derive secret "tls13 c ap traffic"';
    assert.deepEqual(s3.bytes(step, 'PRK'), master.secret);
    assert.deepEqual(master.clientApplicationTrafficSecret(hashChSf), s3.bytes(step, 'expanded (32 octets)'));
    assert.deepEqual(
      hkdfExpand(nodeCryptoProvider, HASH, master.secret, s3.bytes(step, 'info (54 octets)'), 32),
      s3.bytes(step, 'expanded'),
    );
  });

  it('derives s ap traffic as in RFC 8448 §3', () => {
    const step = '{server}  derive secret "tls13 s ap traffic"';
    assert.deepEqual(master.serverApplicationTrafficSecret(hashChSf), s3.bytes(step, 'expanded (32 octets)'));
    assert.deepEqual(
      hkdfExpand(nodeCryptoProvider, HASH, master.secret, s3.bytes(step, 'info (54 octets)'), 32),
      s3.bytes(step, 'expanded'),
    );
  });

  it('derives exp master as in RFC 8448 §3', () => {
    const step = '{server}  derive secret "tls13 exp master"';
    assert.deepEqual(master.exporterMasterSecret(hashChSf), s3.bytes(step, 'expanded (32 octets)'));
    assert.deepEqual(
      hkdfExpand(nodeCryptoProvider, HASH, master.secret, s3.bytes(step, 'info (52 octets)'), 32),
      s3.bytes(step, 'expanded'),
    );
  });

  it('derives the server and client application keys and IVs as in RFC 8448 §3', () => {
    const serverStep = '{server}  derive write traffic keys for application data';
    const serverSecret = master.serverApplicationTrafficSecret(hashChSf);
    assert.deepEqual(s3.bytes(serverStep, 'PRK'), serverSecret);
    const server = trafficKeys(nodeCryptoProvider, HASH, KEY_LENGTH, serverSecret);
    assert.deepEqual(server.key, s3.bytes(serverStep, 'key expanded (16 octets)'));
    assert.deepEqual(server.iv, s3.bytes(serverStep, 'iv expanded (12 octets)'));

    const clientStep = '{client}  derive write traffic keys for application data';
    const clientSecret = master.clientApplicationTrafficSecret(hashChSf);
    assert.deepEqual(s3.bytes(clientStep, 'PRK'), clientSecret);
    const client = trafficKeys(nodeCryptoProvider, HASH, KEY_LENGTH, clientSecret);
    assert.deepEqual(client.key, s3.bytes(clientStep, 'key expanded (16 octets)'));
    assert.deepEqual(client.iv, s3.bytes(clientStep, 'iv expanded (12 octets)'));
  });

  it('computes the client Finished verify_data over ClientHello..server Finished as in RFC 8448 §3', () => {
    const step = '{client}  calculate finished "tls13 finished"';
    const baseKey = s3.bytes(step, 'PRK (32 octets)');
    assert.deepEqual(baseKey, handshake.clientHandshakeTrafficSecret(hashChSh));
    assert.deepEqual(
      expandLabel(nodeCryptoProvider, HASH, baseKey, 'finished', Buffer.alloc(0), 32),
      s3.bytes(step, 'expanded (32 octets)'),
    );
    const verifyData = finishedVerifyData(nodeCryptoProvider, HASH, baseKey, hashChSf);
    assert.deepEqual(verifyData, s3.bytes(step, 'finished (32 octets)'));
    assert.deepEqual(finishedMessage(verifyData), clientFinished);
  });

  it('derives res master over ClientHello..client Finished as in RFC 8448 §3', () => {
    const step = '{client}  derive secret "tls13 res master"';
    assert.deepEqual(s3.bytes(step, 'PRK'), master.secret);
    assert.deepEqual(hashChCf, s3.bytes(step, 'hash (32 octets)'));
    assert.deepEqual(master.resumptionMasterSecret(hashChCf), s3.bytes(step, 'expanded (32 octets)'));
    assert.deepEqual(
      hkdfExpand(nodeCryptoProvider, HASH, master.secret, s3.bytes(step, 'info (52 octets)'), 32),
      s3.bytes(step, 'expanded'),
    );
  });

  it('derives the resumption PSK from res master and the ticket nonce as in RFC 8448 §3', () => {
    const step = '{server}  generate resumption secret "tls13 resumption"';
    const ticket = decodeNewSessionTicket(newSessionTicket);
    // The trace prints the ticket nonce as the "hash" (context) input.
    assert.deepEqual(ticket.nonce, s3.bytes(step, 'hash (2 octets)'));
    const resMaster = master.resumptionMasterSecret(hashChCf);
    assert.deepEqual(s3.bytes(step, 'PRK (32 octets)'), resMaster);
    assert.deepEqual(resumptionPsk(nodeCryptoProvider, HASH, resMaster, ticket.nonce), s3.bytes(step, 'expanded (32 octets)'));
    assert.deepEqual(hkdfExpand(nodeCryptoProvider, HASH, resMaster, s3.bytes(step, 'info (22 octets)'), 32), s3.bytes(step, 'expanded'));
  });

  it('exposes only the derivations legal at each stage (RFC 8446 §7.1)', () => {
    // EarlySecret offers no traffic secrets, HandshakeSecret no application ones (RFC 8446 §7.1 order).
    assert.equal('clientApplicationTrafficSecret' in early, false);
    assert.equal('clientApplicationTrafficSecret' in handshake, false);
    assert.equal('clientHandshakeTrafficSecret' in master, false);
  });
});

describe('RFC 8448 §4 key schedule (resumed 0-RTT handshake)', () => {
  const ticket = decodeNewSessionTicket(newSessionTicket);
  const psk = resumptionPsk(nodeCryptoProvider, HASH, master.resumptionMasterSecret(hashChCf), ticket.nonce);
  const resumedEarly = new EarlySecret(nodeCryptoProvider, HASH, psk);
  const sentClientHello = s4.bytes('{client}  send handshake record', 'payload (512 octets)');
  const offered = findOfferedPsk(sentClientHello);

  it("derives §4's PSK from §3's res master and ticket nonce (RFC 8448 §3, §4)", () => {
    assert.deepEqual(psk, s4.bytes('{client}  extract secret "early"', 'IKM (32 octets)'));
  });

  it('extracts the early secret from the PSK as in RFC 8448 §4', () => {
    assert.deepEqual(s4.bytes('{client}  extract secret "early"', 'salt'), Buffer.alloc(0), 'salt is "0 (all zero octets)"');
    assert.deepEqual(resumedEarly.secret, s4.bytes('{client}  extract secret "early"', 'secret (32 octets)'));
  });

  it("offers §3's ticket as the PSK identity in §4's ClientHello (RFC 8448 §4)", () => {
    assert.deepEqual(offered.identity, ticket.ticket);
  });

  it('derives the res binder key as in RFC 8448 §4', () => {
    assert.deepEqual(resumedEarly.binderKey('res'), s4.bytes('{client}  calculate PSK binder', 'PRK (32 octets)'));
  });

  it('truncates the ClientHello before the binders exactly where RFC 8448 §4 does', () => {
    const prefix = s4.bytes('{client}  calculate PSK binder', 'ClientHello prefix (477 octets)');
    assert.equal(offered.truncatedLength, prefix.length);
    assert.deepEqual(sentClientHello.subarray(0, offered.truncatedLength), prefix);
    assert.deepEqual(prefix, s4.bytes('{client}  construct a ClientHello handshake message', 'ClientHello (477 octets)'));
    assert.deepEqual(transcriptOf(prefix), s4.bytes('{client}  calculate PSK binder', 'binder hash (32 octets)'));
  });

  it("computes the PSK binder carried in §4's ClientHello as finishedVerifyData over the truncated hello (RFC 8446 §4.2.11.2)", () => {
    const step = '{client}  calculate PSK binder';
    const binderKey = resumedEarly.binderKey('res');
    assert.deepEqual(
      expandLabel(nodeCryptoProvider, HASH, binderKey, 'finished', Buffer.alloc(0), 32),
      s4.bytes(step, 'expanded (32 octets)'),
    );
    const binder = finishedVerifyData(
      nodeCryptoProvider,
      HASH,
      binderKey,
      transcriptOf(sentClientHello.subarray(0, offered.truncatedLength)),
    );
    assert.deepEqual(binder, s4.bytes(step, 'finished (32 octets)'));
    assert.deepEqual(binder, offered.binder);
  });

  it('derives c e traffic over the whole ClientHello as in RFC 8448 §4', () => {
    const step = '{client}  derive secret "tls13 c e traffic"';
    assert.deepEqual(s4.bytes(step, 'PRK (32 octets)'), resumedEarly.secret);
    const hash = transcriptOf(sentClientHello);
    assert.deepEqual(hash, s4.bytes(step, 'hash (32 octets)'));
    const secret = resumedEarly.clientEarlyTrafficSecret(hash);
    assert.deepEqual(secret, s4.bytes(step, 'expanded (32 octets)'));
    assert.deepEqual(hkdfExpand(nodeCryptoProvider, HASH, resumedEarly.secret, s4.bytes(step, 'info (53 octets)'), 32), secret);
  });

  it('derives the early data key and IV as in RFC 8448 §4', () => {
    const step = '{client}  derive write traffic keys for early application data';
    const secret = resumedEarly.clientEarlyTrafficSecret(transcriptOf(sentClientHello));
    assert.deepEqual(s4.bytes(step, 'PRK (32 octets)'), secret);
    const { key, iv } = trafficKeys(nodeCryptoProvider, HASH, KEY_LENGTH, secret);
    assert.deepEqual(key, s4.bytes(step, 'key expanded (16 octets)'));
    assert.deepEqual(iv, s4.bytes(step, 'iv expanded (12 octets)'));
  });
});

describe('Rfc8448Trace (the vector loader these tests rely on)', () => {
  const sample = [
    '   {server}  derive secret "tls13 c hs traffic":',
    '',
    '      PRK (32 octets):  1d c8 26 e9 36 06 aa 6f dc 0a ad c1 2f 74 1b 01',
    '\f',
    'Thomson                       Informational                     [Page 5]',
    'RFC 8448                     TLS 1.3 Traces                January 2019',
    '',
    '         04 6a a6 b9 9f 69 1e d2 21 a9 f0 ca 04 3f be ac',
    '',
    '      hash (0 octets):  (empty)',
    '',
    '   {client}  derive read traffic keys for handshake data (same as server',
    '      handshake data write traffic keys)',
    '',
  ].join('\n');

  it('joins a hex run across a page break and strips labels and whitespace', () => {
    const trace = new Rfc8448Trace(sample);
    assert.deepEqual(
      trace.bytes('{server}  derive secret "tls13 c hs traffic":', 'PRK (32 octets):'),
      s3.bytes('{server}  extract secret "handshake"', 'secret'),
    );
    assert.deepEqual(trace.bytes('{server} derive secret "tls13 c hs traffic"', 'hash'), Buffer.alloc(0));
  });

  it('joins a wrapped step heading', () => {
    const trace = new Rfc8448Trace(sample);
    assert.equal(
      trace.stepsNamed('{client}  derive read traffic keys for handshake data (same as server handshake data write traffic keys)').length,
      1,
    );
  });

  it('fails loudly on a missing step, a missing field, a wrong size or a short hex run', () => {
    const trace = new Rfc8448Trace(sample);
    assert.throws(() => trace.bytes('{server}  derive secret "tls13 s hs traffic"', 'PRK'), /no step/);
    assert.throws(() => trace.bytes('{server}  derive secret "tls13 c hs traffic"', 'info'), /no field/);
    assert.throws(() => trace.bytes('{server}  derive secret "tls13 c hs traffic"', 'PRK (48 octets)'), /not 48/);
    assert.throws(() => new Rfc8448Trace('   {client}  x:\n\n      key (3 octets):  01 02\n'), /declares 3 octets but holds 2/);
  });

  it('finds every data-bearing step of the pasted §3 and §4 traces', () => {
    assert.equal(s3.stepsNamed('{server}  send handshake record').length, 3);
    assert.equal(s3.stepsNamed('{client}  send handshake record').length, 2);
    for (const step of [...s3.steps, ...s4.steps]) {
      for (const field of step.fields) {
        if (field.declaredOctets !== undefined) assert.equal(field.bytes.length, field.declaredOctets, `${step.heading} ${field.label}`);
      }
    }
  });
});
