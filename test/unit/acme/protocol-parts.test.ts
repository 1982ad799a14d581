import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkContacts } from '../../../src/acme/accounts.js';
import { formatCertId, parseCertId, suggestedWindow } from '../../../src/acme/ari.js';
import { authorizationTarget, IdentifierPolicy } from '../../../src/acme/identifiers.js';
import { decodeJwsBody, importAccountKey } from '../../../src/acme/jws.js';
import { AcmeProblemError, problemDocument, toAcmeProblem } from '../../../src/acme/problems.js';
import { DomainError } from '../../../src/shared/errors.js';

/** The pure parts of the ACME server (nonces: nonces.test.ts): identifier policy, certIDs, JWK thumbprints, contacts, problems. */

function problemType(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof AcmeProblemError) return error.type;
    throw error;
  }
  assert.fail('expected an ACME problem');
}

describe('IdentifierPolicy', () => {
  const policy = new IdentifierPolicy({
    allowedSuffixes: ['example.test'],
    allowedIpRanges: ['192.0.2.0/24', '2001:db8::/32'],
    eabRequired: false,
  });

  it('normalizes names and addresses, drops duplicates, and allows a suffix itself and names under it', () => {
    assert.deepEqual(
      policy.check([
        { type: 'dns', value: 'Example.Test' },
        { type: 'dns', value: 'a.b.example.test' },
        { type: 'dns', value: 'A.B.example.test' },
        { type: 'ip', value: '2001:0db8:0:0::1' },
      ]),
      [
        { type: 'dns', value: 'example.test' },
        { type: 'dns', value: 'a.b.example.test' },
        { type: 'ip', value: '2001:db8::1' },
      ],
    );
  });

  it('refuses look-alike suffixes, outside ranges, IPs in dns identifiers and unknown types', () => {
    assert.equal(
      problemType(() => policy.check([{ type: 'dns', value: 'badexample.test' }])),
      'rejectedIdentifier',
    );
    assert.equal(
      problemType(() => policy.check([{ type: 'ip', value: '192.0.3.1' }])),
      'rejectedIdentifier',
    );
    assert.equal(
      problemType(() => policy.check([{ type: 'dns', value: '192.0.2.1' }])),
      'rejectedIdentifier',
    );
    assert.equal(
      problemType(() => policy.check([{ type: 'uri', value: 'x' }])),
      'unsupportedIdentifier',
    );
    assert.equal(
      problemType(() => policy.check([{ type: 'dns', value: 'a..example.test' }])),
      'malformed',
    );
    assert.equal(
      problemType(() => policy.check([{ type: 'dns', value: 'a.*.example.test' }])),
      'malformed',
    );
    assert.equal(
      problemType(() => policy.check([])),
      'malformed',
    );
  });

  it('collects mixed refusals into one compound problem with a subproblem each (RFC 8555 §6.7.1)', () => {
    try {
      policy.check([
        { type: 'dns', value: 'example.com' },
        { type: 'uri', value: 'x' },
        { type: 'dns', value: 'ok.example.test' },
      ]);
      assert.fail('expected a refusal');
    } catch (error) {
      assert.ok(error instanceof AcmeProblemError);
      assert.equal(error.type, 'compound');
      assert.deepEqual(
        error.options.subproblems?.map((s) => s.type),
        ['rejectedIdentifier', 'unsupportedIdentifier'],
      );
    }
  });

  it('authorizes a wildcard as its base name', () => {
    assert.deepEqual(authorizationTarget({ type: 'dns', value: '*.a.example.test' }), {
      identifier: { type: 'dns', value: 'a.example.test' },
      isWildcard: true,
    });
    assert.deepEqual(policy.check([{ type: 'dns', value: '*.Example.Test' }]), [{ type: 'dns', value: '*.example.test' }]);
  });
});

describe('ARI certID and window (RFC 9773 §4.1)', () => {
  it('encodes AKI and serial as base64url and reads them back, keeping a high-bit serial positive', () => {
    const aki = '69fac9bd55fb0ac78d53bbee5cf1d597989fd0aa';
    // RFC 9773 §4.1 example: keyIdentifier 69:88:5B:..., serial 00:87:65:43:21 -> "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE".
    assert.equal(formatCertId('69885b6b87464041e1b37b847ba0ae2cde01c8d4', '87654321'), 'aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE');
    assert.deepEqual(parseCertId('aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE'), {
      authorityKeyId: '69885b6b87464041e1b37b847ba0ae2cde01c8d4',
      serial: '87654321',
    });
    assert.deepEqual(parseCertId(formatCertId(aki, '4a01')), { authorityKeyId: aki, serial: '4a01' });
    for (const bad of ['', 'abc', 'a.b.c', 'a+b.c', 'AQ.AA'])
      assert.equal(
        problemType(() => parseCertId(bad)),
        'malformed',
        bad,
      );
  });

  it('suggests a window inside the lifetime around two thirds, the same on every call, and a past one once revoked', () => {
    const record = { serial: '4a01', notBefore: 0, notAfter: 90 * 86_400_000, status: 'valid' as const };
    const window = suggestedWindow(record, 1);
    assert.deepEqual(suggestedWindow(record, 2), window);
    const start = Date.parse(window.start) / record.notAfter;
    const end = Date.parse(window.end) / record.notAfter;
    assert.ok(start >= 0.6 && start < 2 / 3 && end > 2 / 3 && end < 0.75, `${start}..${end}`);
    const now = 10 * 86_400_000;
    assert.ok(Date.parse(suggestedWindow({ ...record, status: 'revoked' }, now).end) < now);
  });
});

describe('JWS decoding and account keys (RFC 8555 §6.2, RFC 7638)', () => {
  it('computes the RFC 7638 §3.1 thumbprint of its example RSA key', async () => {
    const key = await importAccountKey(
      {
        kty: 'RSA',
        n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
        e: 'AQAB',
        alg: 'RS256',
        kid: '2011-04-29',
      },
      'RS256',
    );
    assert.equal(key.thumbprint, 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    assert.deepEqual(Object.keys(key.jwk).sort(), ['e', 'kty', 'n']);
  });

  it('refuses private JWKs, unknown key types and unsupported algorithms', async () => {
    await assert.rejects(
      importAccountKey({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA' }, 'ES256'),
      (e: unknown) => e instanceof AcmeProblemError && e.type === 'malformed',
    );
    await assert.rejects(importAccountKey({ kty: 'oct', k: 'AA' }, 'ES256'), (e: unknown) => e instanceof AcmeProblemError);
    const header = Buffer.from(JSON.stringify({ alg: 'none', url: 'https://x/new-order' })).toString('base64url');
    const jws = Buffer.from(JSON.stringify({ protected: header, payload: '', signature: 'AA' }));
    assert.equal(
      problemType(() => decodeJwsBody('application/jose+json', jws)),
      'badSignatureAlgorithm',
    );
    // RFC 8555 §6.2: no unprotected header.
    const withHeader = Buffer.from(JSON.stringify({ protected: header, payload: '', signature: 'AA', header: {} }));
    assert.equal(
      problemType(() => decodeJwsBody('application/jose+json', withHeader)),
      'malformed',
    );
  });
});

describe('contacts and problems', () => {
  it('accepts single mailto addresses, lowercasing the domain, and refuses others (RFC 8555 §7.3)', () => {
    assert.deepEqual(checkContacts(['mailto:Ops@Example.Test']), ['mailto:Ops@example.test']);
    assert.equal(
      problemType(() => checkContacts(['https://example.test'])),
      'unsupportedContact',
    );
    for (const bad of ['mailto:a@b', 'mailto:a@b.test?subject=x', 'mailto:a@b.test,c@d.test', 'mailto:@b.test', 'mailto:a b@c.test']) {
      assert.equal(
        problemType(() => checkContacts([bad])),
        'invalidContact',
        bad,
      );
    }
  });

  it('maps DomainError kinds to ACME types and hides internal ones', () => {
    const notFound = toAcmeProblem(new DomainError('notFound', 'gone'));
    assert.deepEqual(notFound === undefined ? undefined : problemDocument(notFound), {
      type: 'urn:ietf:params:acme:error:malformed',
      detail: 'gone',
      status: 404,
    });
    assert.equal(toAcmeProblem(new DomainError('internal', 'disk on fire')), undefined);
    assert.equal(toAcmeProblem(new Error('boom')), undefined);
    assert.equal(toAcmeProblem(new DomainError('badCSR', 'short key'))?.type, 'badCSR');
  });

  it('answers a database that cannot be reached with serverInternal, 503 and Retry-After (RFC 8555 §6.7 has no narrower type)', () => {
    const problem = toAcmeProblem(
      new DomainError('unavailable', 'the ledger database cannot be reached right now', { retryAfterSeconds: 5 }),
    );
    assert.ok(problem !== undefined);
    assert.deepEqual(problemDocument(problem), {
      type: 'urn:ietf:params:acme:error:serverInternal',
      detail: 'the ledger database cannot be reached right now',
      status: 503,
    });
    assert.equal(problem.options.retryAfterSeconds, 5);
  });

  it('answers a service at capacity (busy) with serverInternal, 503 and its Retry-After (RFC 8555 §6.7 has no narrower type)', () => {
    const problem = toAcmeProblem(
      new DomainError('busy', 'the crypto workers have 4096 jobs queued; retry shortly', { retryAfterSeconds: 1 }),
    );
    assert.ok(problem !== undefined);
    assert.deepEqual(problemDocument(problem), {
      type: 'urn:ietf:params:acme:error:serverInternal',
      detail: 'the crypto workers have 4096 jobs queued; retry shortly',
      status: 503,
    });
    assert.equal(problem.options.retryAfterSeconds, 1);
  });
});
