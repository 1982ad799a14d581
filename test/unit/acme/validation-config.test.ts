import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/config/index.js';

describe('ACME validation caps in the configuration', () => {
  it('defaults to 64 in flight, 8 per account, 4096 queued, 1024 queued per account', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.acmeMaxValidations, 64);
    assert.equal(config.acmeMaxValidationsPerAccount, 8);
    assert.equal(config.acmeMaxQueuedValidations, 4096);
    assert.equal(config.acmeMaxQueuedValidationsPerAccount, 1024);
  });

  it('reads the KEYSMITH_ACME_MAX_* variables as numbers', () => {
    const config = loadConfig({
      env: {
        KEYSMITH_ACME_MAX_VALIDATIONS: '32',
        KEYSMITH_ACME_MAX_VALIDATIONS_PER_ACCOUNT: '4',
        KEYSMITH_ACME_MAX_QUEUED_VALIDATIONS: '200',
        KEYSMITH_ACME_MAX_QUEUED_VALIDATIONS_PER_ACCOUNT: '50',
      },
    });
    assert.deepEqual(
      [
        config.acmeMaxValidations,
        config.acmeMaxValidationsPerAccount,
        config.acmeMaxQueuedValidations,
        config.acmeMaxQueuedValidationsPerAccount,
      ],
      [32, 4, 200, 50],
    );
  });

  it('refuses a per-account cap above the global one, and caps that are not positive integers', () => {
    assert.throws(
      () => loadConfig({ env: { KEYSMITH_ACME_MAX_VALIDATIONS: '4', KEYSMITH_ACME_MAX_VALIDATIONS_PER_ACCOUNT: '8' } }),
      (error: unknown) =>
        error instanceof ConfigError &&
        /KEYSMITH_ACME_MAX_VALIDATIONS_PER_ACCOUNT \(acmeMaxValidationsPerAccount\): expected at most acmeMaxValidations/.test(
          error.message,
        ),
    );
    assert.throws(
      () => loadConfig({ env: { KEYSMITH_ACME_MAX_QUEUED_VALIDATIONS: '10', KEYSMITH_ACME_MAX_QUEUED_VALIDATIONS_PER_ACCOUNT: '11' } }),
      /expected at most acmeMaxQueuedValidations/,
    );
    assert.throws(() => loadConfig({ env: { KEYSMITH_ACME_MAX_VALIDATIONS: '0' } }), /acmeMaxValidations\): expected at least 1/);
    assert.throws(() => loadConfig({ env: { KEYSMITH_ACME_MAX_VALIDATIONS: 'many' } }), ConfigError);
  });
});
