/**
 * `keysmith ca ...`: the intermediate CA's lifecycle (docs/ca-lifecycle.md).
 * `rotate` prepares a new intermediate (published at once, signing after the
 * overlap), `activate` moves that moment to now, `status` lists them,
 * `revoke-intermediate` and `arl` are the compromise case (an ARL signed by
 * the root). Commands that need the root key say so when it is offline.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import {
  activateNow,
  importIntermediate,
  intermediateStates,
  prepareIntermediate,
  requestIntermediate,
  resignArl,
  revokeIntermediate,
  RootKeyOfflineError,
  signIntermediateRequest,
  type CaOpsContext,
  type IntermediateView,
} from '../ca/index.js';
import type { Config } from '../config/index.js';
import { DomainError } from '../shared/errors.js';
import { isRevocableReason, REVOCABLE_REASONS } from '../domain/certificates.js';
import { systemClock } from '../shared/clock.js';
import { durationOption, stringOption, UsageError, type Command, type ParsedCommand } from './args.js';
import type { CaLedger } from './ca-join.js';
import { openCore, revocationBaseUrl } from './compose.js';
import { configOf, onePositional } from './offline.js';

/** `<revocation base>/crl/root`, or none when the base is not known offline (listen port 0 without a public URL). */
function arlUrlOf(config: Config): { arlUrl?: string } {
  try {
    return { arlUrl: `${revocationBaseUrl(config)}/crl/root` };
  } catch {
    return {};
  }
}

/** Runs `use` with the ledger open (its CA checked) and the context the CA operations need. */
async function withCa<T>(parsed: ParsedCommand, use: (ctx: CaOpsContext, ledger: CaLedger) => Promise<T>): Promise<T> {
  const config = configOf(parsed);
  const core = await openCore(config, { ensureIdentities: false });
  try {
    return await use(
      {
        dataDir: config.dataDir,
        trustDomain: config.trustDomain,
        clock: core.clock,
        store: core.repositories.certificates,
        ...(config.caPassphrase === undefined ? {} : { passphrase: config.caPassphrase }),
        ...arlUrlOf(config),
      },
      core.repositories.certificates,
    );
  } catch (err) {
    // The root key moved offline is an operator's situation, not a crash: exit 1 with the sentence.
    if (err instanceof RootKeyOfflineError) throw new DomainError('notFound', err.message);
    throw err;
  } finally {
    await core.close();
  }
}

function describeOne(i: IntermediateView): string {
  return `${i.serial} ${i.state} activates ${new Date(i.activateAt).toISOString()} expires ${new Date(i.notAfter).toISOString()}`;
}

const FILE_MODES = ['csr-out', 'sign-csr', 'import-cert'] as const;

export const caRotateCommand: Command = {
  name: 'ca rotate',
  summary: 'prepare a new intermediate CA: published now, signing after the overlap',
  usage:
    'keysmith ca rotate [--activate-after DURATION] | --csr-out FILE | --sign-csr FILE --cert-out FILE | --import-cert FILE [--activate-after DURATION]',
  example: 'keysmith ca rotate --activate-after 24h',
  options: {
    'activate-after': {
      type: 'string',
      value: 'DURATION',
      default: 'caRotationOverlap (24h)',
      help: 'how long the new intermediate is published before it signs (0s: at once)',
    },
    'csr-out': { type: 'string', value: 'FILE', help: 'offline root: keep a new key in ca/ and write its certificate request to FILE' },
    'sign-csr': {
      type: 'string',
      value: 'FILE',
      help: 'where the root key is: sign the request in FILE as an intermediate (with --cert-out)',
    },
    'cert-out': { type: 'string', value: 'FILE', help: 'with --sign-csr: where the intermediate certificate (PEM) goes' },
    'import-cert': {
      type: 'string',
      value: 'FILE',
      help: 'offline root: install the intermediate certificate signed for the pending request',
    },
  },
  async run(parsed) {
    const modes = FILE_MODES.filter((name) => stringOption(parsed, name) !== undefined);
    if (modes.length > 1) throw new UsageError(`give one of --${FILE_MODES.join(', --')}`);
    const config = configOf(parsed);
    const after = durationOption(parsed, 'activate-after') ?? config.caRotationOverlap;
    const csrOut = stringOption(parsed, 'csr-out');
    const signCsr = stringOption(parsed, 'sign-csr');
    const importCert = stringOption(parsed, 'import-cert');
    if (signCsr !== undefined) {
      const certOut = stringOption(parsed, 'cert-out');
      if (certOut === undefined) throw new UsageError('--sign-csr needs --cert-out FILE');
      // The offline machine needs no ledger: only its ca/ with the root key.
      const pem = await signOffline(config, readFileSync(signCsr, 'utf8'));
      writeFileSync(certOut, pem, { mode: 0o644, flag: 'wx' });
      console.log(
        `signed the intermediate request ${signCsr}: ${certOut}; install it with \`keysmith ca rotate --import-cert ${certOut}\` on the service`,
      );
      return 0;
    }
    await withCa(parsed, async (ctx) => {
      if (csrOut !== undefined) {
        const { csrPem, keyPath } = await requestIntermediate(ctx);
        writeFileSync(csrOut, csrPem, { mode: 0o644, flag: 'wx' });
        console.log(
          `wrote the request ${csrOut} (its key stays in ${keyPath}); sign it where the root key is with \`keysmith ca rotate --sign-csr ${csrOut} --cert-out FILE\``,
        );
        return;
      }
      const activateAt = ctx.clock.now() + after;
      const view =
        importCert === undefined
          ? await prepareIntermediate(ctx, activateAt)
          : await importIntermediate(ctx, readFileSync(importCert, 'utf8'), activateAt);
      console.log(`prepared intermediate ${view.serial}: in the trust bundle now, signing from ${new Date(view.activateAt).toISOString()}`);
      console.log('running nodes pick it up within caReloadInterval; `keysmith ca activate` switches at once');
    });
    return 0;
  },
};

async function signOffline(config: Config, csrPem: string): Promise<string> {
  try {
    return await signIntermediateRequest(
      {
        dataDir: config.dataDir,
        trustDomain: config.trustDomain,
        clock: systemClock,
        ...(config.caPassphrase === undefined ? {} : { passphrase: config.caPassphrase }),
        ...arlUrlOf(config),
      },
      csrPem,
    );
  } catch (err) {
    if (err instanceof RootKeyOfflineError) throw new DomainError('notFound', err.message);
    throw err;
  }
}

export const caActivateCommand: Command = {
  name: 'ca activate',
  summary: 'make the prepared intermediate CA sign from now on',
  usage: 'keysmith ca activate [SERIAL]',
  example: 'keysmith ca activate',
  options: {},
  allowPositionals: true,
  async run(parsed) {
    if (parsed.positionals.length > 1) throw new UsageError('give at most one SERIAL');
    const serial = parsed.positionals[0];
    await withCa(parsed, async (ctx) => {
      const view = await activateNow(ctx, serial);
      console.log(`intermediate ${view.serial} is ${view.state}; running nodes switch within caReloadInterval`);
    });
    return 0;
  },
};

export const caStatusCommand: Command = {
  name: 'ca status',
  summary: 'list the intermediate CAs: prepared, active, retiring, retired, revoked',
  usage: 'keysmith ca status [--json]',
  example: 'keysmith ca status --json',
  options: { json: { type: 'boolean', help: 'one JSON document instead of lines' } },
  async run(parsed) {
    await withCa(parsed, async (ctx, ledger) => {
      const states = await intermediateStates(ctx);
      const rows = [];
      for (const i of states) rows.push({ ...i, leavesOutstanding: await leavesOutstanding(ledger, i, ctx.clock.now()) });
      if (parsed.values['json'] === true) {
        console.log(
          JSON.stringify({
            intermediates: rows.map((r) => ({
              serial: r.serial,
              state: r.state,
              subject: r.nameText,
              not_before: new Date(r.notBefore).toISOString(),
              not_after: new Date(r.notAfter).toISOString(),
              activate_at: new Date(r.activateAt).toISOString(),
              dropped_at: r.droppedAt === undefined ? null : new Date(r.droppedAt).toISOString(),
              leaves_outstanding: r.leavesOutstanding,
            })),
          }),
        );
        return;
      }
      for (const r of rows) console.log(`${describeOne(r)} leaves ${r.leavesOutstanding}`);
    });
    return 0;
  },
};

/** Valid, unexpired leaves this intermediate signed (the ledger in pages of 500, filtered by issuer name: `ca status` only). */
async function leavesOutstanding(ledger: CaLedger, intermediate: IntermediateView, now: number): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  for (;;) {
    const page = await ledger.list({ status: 'valid', limit: 500, ...(cursor === undefined ? {} : { cursor }) });
    count += page.items.filter((c) => c.issuer === intermediate.nameText && c.notAfter > now).length;
    if (page.nextCursor === null) return count;
    cursor = page.nextCursor;
  }
}

export const caRevokeIntermediateCommand: Command = {
  name: 'ca revoke-intermediate',
  summary: 'revoke a compromised intermediate CA: ledger, ARL signed by the root, bundle',
  usage: `keysmith ca revoke-intermediate SERIAL [--reason ${REVOCABLE_REASONS.join('|')}]`,
  example: 'keysmith ca revoke-intermediate 5f3a9c0d2e71b4a8 --reason keyCompromise',
  options: {
    reason: { type: 'string', value: 'REASON', default: 'keyCompromise', help: 'RFC 5280 §5.3.1 reason code written into the ARL' },
  },
  allowPositionals: true,
  async run(parsed) {
    const serial = onePositional(parsed, 'SERIAL');
    const reason = stringOption(parsed, 'reason') ?? 'keyCompromise';
    if (!isRevocableReason(reason)) throw new UsageError(`--reason: expected one of ${REVOCABLE_REASONS.join(', ')}, got '${reason}'`);
    await withCa(parsed, async (ctx) => {
      const result = await revokeIntermediate(ctx, serial, reason);
      if (result.activated !== undefined) console.log(`activated intermediate ${result.activated} in its place`);
      console.log(
        `revoked intermediate ${serial.toLowerCase()} (${reason}); ARL written to ${result.arlPath}, served at /crl/root; it leaves the bundle within caReloadInterval`,
      );
    });
    return 0;
  },
};

export const caArlCommand: Command = {
  name: 'ca arl',
  summary: 're-sign the ARL (the CRL of intermediates the root signs) before its nextUpdate',
  usage: 'keysmith ca arl',
  example: 'keysmith ca arl',
  options: {},
  async run(parsed) {
    await withCa(parsed, async (ctx) => {
      console.log(`ARL written to ${await resignArl(ctx)}`);
    });
    return 0;
  },
};
