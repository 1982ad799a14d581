import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TlsAlertError } from '../../../../src/tls/alert.js';
import { NamedGroup } from '../../../../src/tls/codec/enums.js';
import { HELLO_RETRY_REQUEST_RANDOM } from '../../../../src/tls/codec/messages/server-hello.js';
import { ScriptMismatch } from '../../../helpers/fixed-provider.js';
import { loadTranscripts, replayTranscript } from '../../../helpers/fixed-provider-transcript.js';

/**
 * Every recorded transcript of a real peer (test/transcripts/*.json:
 * OpenSSL, GnuTLS, node:tls, Go's crypto/tls) replayed through a Connection
 * on the recorded provider script and clock: our side must write exactly
 * what it wrote to the real peer, and use the whole script.
 */

const transcripts = loadTranscripts();

const TYPE_NAMES: Readonly<Record<number, string>> = { 20: 'ccs', 21: 'alert', 22: 'handshake', 23: 'application_data' };

/** The record types in a byte stream, for a readable first difference. */
function recordTypes(bytes: Buffer): string {
  const types: string[] = [];
  for (let at = 0; at + 5 <= bytes.length; at += 5 + bytes.readUInt16BE(at + 3)) {
    const type = bytes.readUInt8(at);
    types.push(`${TYPE_NAMES[type] ?? String(type)}(${bytes.readUInt16BE(at + 3)})`);
  }
  return types.join(' ');
}

describe('recorded transcripts of real peers, replayed', () => {
  it('has transcripts of every peer, both roles, with client certificates and resumption', () => {
    const names = transcripts.map((t) => t.transcript.name);
    for (const wanted of [
      'server-openssl-full',
      'server-openssl-resumed',
      'server-openssl-client-cert',
      'server-openssl-hello-retry',
      'server-gnutls-full',
      'server-node-resumed',
      'client-openssl-full',
    ]) {
      assert.ok(names.includes(wanted), `missing transcript ${wanted}`);
    }
  });

  it('fails when one scripted value differs (the server random): the CertificateVerify content no longer matches the script', () => {
    const recorded = transcripts.find((t) => t.transcript.name === 'server-openssl-full')?.transcript;
    assert.ok(recorded !== undefined);
    const random = [...recorded.script.random];
    const serverRandom = random[1];
    assert.equal(serverRandom?.length, 64);
    random[1] = `${serverRandom.slice(0, 62)}${serverRandom.endsWith('00') ? 'ff' : '00'}`;
    assert.throws(
      () => replayTranscript({ ...recorded, script: { ...recorded.script, random } }),
      (err: unknown) => err instanceof TlsAlertError && err.alert === 'internal_error' && err.cause instanceof ScriptMismatch,
    );
  });

  it("our client's session from a full handshake is the one the resumed recording offered", () => {
    for (const peer of ['openssl']) {
      const full = transcripts.find((t) => t.transcript.name === `client-${peer}-full`)?.transcript;
      const resumed = transcripts.find((t) => t.transcript.name === `client-${peer}-resumed`)?.transcript;
      assert.ok(full !== undefined && resumed?.setup.session !== undefined);
      assert.equal(replayTranscript(full).sessions[0], resumed.setup.session);
    }
  });

  for (const { file, transcript } of transcripts) {
    it(`${transcript.name}: ${transcript.peer}`, () => {
      const outcome = replayTranscript(transcript);
      const expected = Buffer.from(transcript.ours, 'hex');
      assert.equal(recordTypes(outcome.ours), recordTypes(expected), `${file}: record layout`);
      assert.ok(outcome.ours.equals(expected), `${file}: our bytes differ from the recording`);
      assert.deepEqual(outcome.provider.unused, { random: 0, keyShares: 0, signatures: 0 }, `${file}: script not used up`);
      assert.notEqual(outcome.result, undefined, `${file}: handshake did not complete`);
      const result = outcome.result;
      if (result === undefined) return;
      assert.equal(result.isResumed, transcript.name.includes('resumed'));
      if (transcript.name.includes('client-cert')) {
        assert.equal(result.peer?.leaf.subject.includes('keysmith'), true, `${file}: client certificate not seen`);
      }
      if (transcript.name.includes('hello-retry')) {
        // The first record is our HelloRetryRequest (RFC 8446 §4.1.3: ServerHello with the special random), then X25519.
        assert.deepEqual(outcome.ours.subarray(11, 43), HELLO_RETRY_REQUEST_RANDOM);
        assert.equal(result.group, NamedGroup.x25519);
      }
    });
  }
});
