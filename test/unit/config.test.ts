import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, readConfig } from '../../src/config/index.js';

/** Configuration messages, asserted verbatim: each names the file and key (or the variable) and what is wrong. */

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keysmith-config-'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

let fileCount = 0;
/** A settings file in a directory of its own, so it keeps the name operators give it (keysmith.yaml). */
function configFile(text: string, name = 'keysmith.yaml'): string {
  const sub = join(dir, String(++fileCount));
  mkdirSync(sub);
  const path = join(sub, name);
  writeFileSync(path, text);
  return path;
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

/** The problems of a configuration that fails, exactly. */
function problemsOf(load: () => unknown): readonly string[] {
  try {
    load();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('configuration file keys', () => {
  it('names the file and an unknown key, with the key it was probably meant to be', () => {
    const file = configFile('trustDomian: example.org\n');
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: {} })),
      [`${file}: trustDomian: unknown key (did you mean trustDomain?)`],
    );
  });

  it('suggests the key for snake_case and for a variable name written in the file', () => {
    const file = configFile('trust_domain: example.org\nKEYSMITH_LISTEN: 127.0.0.1:9443\n');
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: {} })),
      [`${file}: trust_domain: unknown key (did you mean trustDomain?)`, `${file}: KEYSMITH_LISTEN: unknown key (did you mean listen?)`],
    );
  });

  it('suggests nothing when no key is close', () => {
    const file = configFile('colour: blue\n');
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: {} })),
      [`${file}: colour: unknown key`],
    );
  });

  it('reports unknown keys and bad values of known keys together, each with its file and key', () => {
    const file = configFile('trustDomain: .example.org\nmtlsMod: strict\n');
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: {} })),
      [
        `${file}: mtlsMod: unknown key (did you mean mtlsMode?)`,
        `${file}: trustDomain: the trust domain must not start with "." (got ".example.org")`,
      ],
    );
  });

  it('names the variable when the environment set the value, and it wins over the file', () => {
    const file = configFile('trustDomain: example.org\n');
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: { KEYSMITH_TRUST_DOMAIN: 'Example.org' } })),
      ['KEYSMITH_TRUST_DOMAIN (trustDomain): the trust domain must be lowercase: example.org (got "Example.org")'],
    );
  });

  it('reads a JSON file the same way', () => {
    const file = configFile('{ "dataDir": "./d", "listne": "127.0.0.1:1" }', 'keysmith.json');
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: {} })),
      [`${file}: listne: unknown key (did you mean listen?)`],
    );
  });
});

describe('unknown KEYSMITH_* variables', () => {
  it('are warnings naming the closest known variable, returned with a usable configuration', () => {
    const { config, warnings } = readConfig({ env: { KEYSMITH_TRUST_DOMIAN: 'example.org', KEYSMITH_LSITEN: '127.0.0.1:1' } });
    assert.equal(config.trustDomain, 'keysmith.local');
    assert.deepEqual(warnings, [
      'KEYSMITH_LSITEN is not a keysmith setting and is ignored (did you mean KEYSMITH_LISTEN?)',
      'KEYSMITH_TRUST_DOMIAN is not a keysmith setting and is ignored (did you mean KEYSMITH_TRUST_DOMAIN?)',
    ]);
  });

  it('name the closest one even when it is far', () => {
    const { warnings } = readConfig({ env: { KEYSMITH_COLOUR: 'blue' } });
    assert.equal(warnings.length, 1);
    assert.match(
      warnings[0] ?? '',
      /^KEYSMITH_COLOUR is not a keysmith setting and is ignored \(the closest known one is KEYSMITH_[A-Z0-9_]+\)$/,
    );
  });

  it('leave the project’s tooling variables and other programs’ variables alone', () => {
    const { warnings } = readConfig({
      env: {
        KEYSMITH_TEST_DATABASE_URL: 'postgres://x',
        KEYSMITH_HA_SUBNET: '10.0.0.0/24',
        KEYSMITH_DB_PASSWORD: 'x',
        PATH: '/bin',
        KEYSMITHX: '1',
      },
    });
    assert.deepEqual(warnings, []);
  });

  it('are shown with the problems when the configuration is refused', () => {
    const err = thrown(() => loadConfig({ env: { KEYSMITH_TRUST_DOMAIN: 'a..b', KEYSMITH_TRUST_DOMIAN: 'a.b' } }));
    assert.ok(err instanceof ConfigError);
    assert.equal(
      err.message,
      [
        'invalid configuration:',
        '  - KEYSMITH_TRUST_DOMAIN (trustDomain): the trust domain has an empty label ("..") (got "a..b")',
        'warnings:',
        '  - KEYSMITH_TRUST_DOMIAN is not a keysmith setting and is ignored (did you mean KEYSMITH_TRUST_DOMAIN?)',
      ].join('\n'),
    );
  });

  it('reach loadConfig’s onWarning, which the CLI prints on stderr', () => {
    const seen: string[] = [];
    loadConfig({ env: { KEYSMITH_LOG_LEVLE: 'debug' }, onWarning: (message) => seen.push(message) });
    assert.deepEqual(seen, ['KEYSMITH_LOG_LEVLE is not a keysmith setting and is ignored (did you mean KEYSMITH_LOG_LEVEL?)']);
  });
});

describe('trust domains (SPIFFE-ID §2.1)', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['example..org', 'the trust domain has an empty label ("..")'],
    ['.example.org', 'the trust domain must not start with "."'],
    ['example.org.', 'the trust domain must not end with "."'],
    ['-example.org', 'the trust domain must not start with "-"'],
    ['example.org-', 'the trust domain must not end with "-"'],
    ['Example.org', 'the trust domain must be lowercase: example.org'],
    [
      'example.org:8443',
      'the trust domain contains ":" at position 12 (a trust domain has no port); SPIFFE allows only lowercase letters, digits, ".", "-" and "_"',
    ],
    ['exa mple.org', 'the trust domain contains " " at position 4; SPIFFE allows only lowercase letters, digits, ".", "-" and "_"'],
    ['spiffe://example.org', 'expected the trust domain name alone, without spiffe:// (example.org)'],
    [`${'a'.repeat(252)}.org`, 'the trust domain is 256 characters long; SPIFFE allows at most 255'],
  ];
  for (const [value, message] of cases) {
    it(`refuses ${JSON.stringify(value.length > 40 ? `${value.slice(0, 12)}…` : value)}: ${message}`, () => {
      assert.deepEqual(
        problemsOf(() => loadConfig({ env: { KEYSMITH_TRUST_DOMAIN: value } })),
        [`KEYSMITH_TRUST_DOMAIN (trustDomain): ${message} (got ${JSON.stringify(value)})`],
      );
    });
  }

  it('accepts names of lowercase letters, digits, ".", "-" and "_", up to 255 characters', () => {
    for (const value of ['example.org', 'prod_eu-1.example.org', 'td', `${'a'.repeat(251)}.org`]) {
      assert.equal(loadConfig({ env: { KEYSMITH_TRUST_DOMAIN: value } }).trustDomain, value);
    }
  });
});

describe('IP literals and CIDRs', () => {
  it('refuses a dotted listen host that is not an IPv4 address', () => {
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: { KEYSMITH_LISTEN: '999.1.1.1:8443' } })),
      ['KEYSMITH_LISTEN (listen): 999.1.1.1 is not an IPv4 address (got "999.1.1.1:8443")'],
    );
  });

  it('refuses a bracketed listen host that is not an IPv6 address, also for the plain-HTTP listener', () => {
    const file = configFile('ocspHttpListen: "[1::2::3]:8080"\n');
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: { KEYSMITH_LISTEN: '[fe80::1::]:8443' } })),
      [
        'KEYSMITH_LISTEN (listen): [fe80::1::] is not an IPv6 address (got "[fe80::1::]:8443")',
        `${file}: ocspHttpListen: [1::2::3] is not an IPv6 address (got "[1::2::3]:8080")`,
      ],
    );
  });

  it('accepts IPv4, bracketed IPv6 and DNS names as listen hosts', () => {
    assert.deepEqual(loadConfig({ env: { KEYSMITH_LISTEN: '10.1.2.3:8443' } }).listen, { host: '10.1.2.3', port: 8443 });
    assert.deepEqual(loadConfig({ env: { KEYSMITH_LISTEN: '[::1]:8443' } }).listen, { host: '::1', port: 8443 });
    assert.deepEqual(loadConfig({ env: { KEYSMITH_LISTEN: 'pki.example.org:8443' } }).listen, { host: 'pki.example.org', port: 8443 });
  });

  it('names the bad item of a CIDR list and what is wrong with it', () => {
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: { KEYSMITH_PROXY_PROTOCOL_FROM: '10.0.0.5/32,10.0.0.300/32,10.0.0.6' } })),
      [
        'KEYSMITH_PROXY_PROTOCOL_FROM (proxyProtocolFrom)[1]: "10.0.0.300" is not an IPv4 or IPv6 address; expected CIDRs separated by commas, e.g. 10.0.0.5/32 (got "10.0.0.5/32,10.0.0.300/32,10.0.0.6")',
        'KEYSMITH_PROXY_PROTOCOL_FROM (proxyProtocolFrom)[2]: "10.0.0.6" has no /prefix (write 10.0.0.6/32 for one address); expected CIDRs separated by commas, e.g. 10.0.0.5/32 (got "10.0.0.5/32,10.0.0.300/32,10.0.0.6")',
      ],
    );
    const file = configFile('acmeAllowedIpRanges:\n  - fd00::/129\n');
    assert.deepEqual(
      problemsOf(() => loadConfig({ file, env: {} })),
      [
        `${file}: acmeAllowedIpRanges[0]: the prefix /129 of "fd00::/129" is not 0..128; expected CIDRs separated by commas, e.g. 10.0.0.0/8,fd00::/8 (got ["fd00::/129"])`,
      ],
    );
  });

  it('refuses a validation address that is not an IP address', () => {
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: { KEYSMITH_ACME_VALIDATION_ADDRESS: '10.0.0.256' } })),
      ['KEYSMITH_ACME_VALIDATION_ADDRESS (acmeValidationAddress): expected an IPv4 or IPv6 address (got "10.0.0.256")'],
    );
  });
});

describe('JWT-SVID rotation settings', () => {
  it('defaults the overlap to the longest JWT-SVID lifetime (24 h) and the schedule check to 10 s', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.jwtRotationOverlap, 86_400_000);
    assert.equal(config.jwtKeyCheckInterval, 10_000);
  });

  it('refuses an overlap shorter than the bundle refresh hint', () => {
    assert.deepEqual(
      problemsOf(() => loadConfig({ env: { KEYSMITH_JWT_ROTATION_OVERLAP: '1m' } })),
      ['KEYSMITH_JWT_ROTATION_OVERLAP (jwtRotationOverlap): expected at least 5m (got "1m")'],
    );
  });
});
