import { readFileSync } from 'node:fs';
import { connect } from '../tls/index.js';
import { loadConfig, type Config } from '../config/index.js';
import { printConfigWarning, stringOption, UsageError, type Command, type ParsedCommand } from './args.js';
import { dataPaths, readIfExists } from './files.js';

/** A client identity the health check presents: PEM key and chain, and where they came from (for messages). */
interface HealthIdentity {
  readonly key: string;
  readonly cert: string;
  readonly certPath: string;
}

/**
 * `keysmith health`: asks the running service for /healthz over its own TLS
 * (the container healthcheck). Exit 0 when healthy, 1 otherwise. In `strict`
 * mTLS mode the listener demands a client certificate at the handshake, so
 * the check presents one: --cert/--key, or else the admin identity the
 * first start wrote to the data directory (the container runs the check
 * beside serve, on the same volume). In `standard` mode it presents none
 * unless told to: /healthz answers any TLS client there.
 */
export const healthCommand: Command = {
  name: 'health',
  summary: 'check a running keysmith: GET /healthz over TLS (exit 0 when healthy)',
  usage: 'keysmith health [--config FILE] [--cert FILE --key FILE]',
  options: {
    cert: {
      type: 'string',
      value: 'FILE',
      help: 'client certificate (PEM chain) to present; needed in strict mTLS mode',
      default: '<dataDir>/admin/cert.pem in strict mode, none in standard mode',
    },
    key: { type: 'string', value: 'FILE', help: 'private key (PEM) of --cert', default: '<dataDir>/admin/key.pem in strict mode' },
  },
  example: 'keysmith health --cert data/admin/cert.pem --key data/admin/key.pem',
  async run(parsed) {
    const file = stringOption(parsed, 'config');
    const config = loadConfig({ env: process.env, onWarning: printConfigWarning, ...(file === undefined ? {} : { file }) });
    const identity = healthIdentity(config, parsed);
    const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
    const ca = readFileSync(dataPaths(config.dataDir).bundle);
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connect({
        host,
        port: config.listen.port,
        servername: 'localhost',
        ca,
        handshakeTimeoutMs: 5_000,
        ...(identity === undefined ? {} : { key: identity.key, cert: identity.cert }),
      });
      const timer = setTimeout(() => socket.destroy(new Error('no answer within 5 s')), 5_000);
      let response = '';
      socket.on('secure', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
      socket.on('data', (chunk: Buffer) => {
        response += chunk.toString('latin1');
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(handshakeError(err, config, identity));
      });
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(response.split('\r\n')[0] ?? '');
      });
    });
    console.log(status);
    return /^HTTP\/1\.1 200 /.test(status) ? 0 : 1;
  },
};

/** The identity to present, or undefined; in strict mode a missing one is an error that says what is missing. */
function healthIdentity(config: Config, parsed: ParsedCommand): HealthIdentity | undefined {
  const certOption = stringOption(parsed, 'cert');
  const keyOption = stringOption(parsed, 'key');
  if ((certOption === undefined) !== (keyOption === undefined)) throw new UsageError('--cert and --key go together');
  if (certOption !== undefined && keyOption !== undefined) {
    const cert = readIfExists(certOption);
    const key = readIfExists(keyOption);
    if (cert === undefined || key === undefined)
      throw new Error(`cannot read ${cert === undefined ? certOption : keyOption}: give --cert and --key files this user can read`);
    return { cert, key, certPath: certOption };
  }
  if (config.mtlsMode !== 'strict') return undefined;
  const paths = dataPaths(config.dataDir);
  const cert = readIfExists(paths.adminCert);
  const key = readIfExists(paths.adminKey);
  if (cert === undefined || key === undefined) {
    const missing = [cert === undefined ? paths.adminCert : undefined, key === undefined ? paths.adminKey : undefined]
      .filter((p) => p !== undefined)
      .join(' and ');
    throw new Error(
      `mtlsMode is strict, so the listener requires a client certificate, and there is none to present: ${missing} not found ` +
        '(the first `keysmith serve` writes them); pass --cert FILE --key FILE with a certificate this CA issued (`keysmith issue`)',
    );
  }
  return { cert, key, certPath: paths.adminCert };
}

/** A refused handshake as a sentence: what the server wanted, or what it did not accept. */
function handshakeError(err: Error, config: Config, identity: HealthIdentity | undefined): Error {
  if (/certificate_required/.test(err.message)) {
    return new Error(
      `the server requires a client certificate (its mtlsMode is strict; this configuration says ${config.mtlsMode}): pass --cert FILE --key FILE, or set KEYSMITH_MTLS_MODE=strict to present ${dataPaths(config.dataDir).adminCert}`,
      { cause: err },
    );
  }
  if (identity !== undefined && /bad_certificate|certificate_revoked|certificate_expired|certificate_unknown/.test(err.message)) {
    return new Error(
      `the server refused the client certificate ${identity.certPath} (${err.message}): issue a new one (\`keysmith issue\`) and pass it with --cert/--key`,
      { cause: err },
    );
  }
  return err;
}
