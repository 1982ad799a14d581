import { readFileSync } from 'node:fs';
import { connect } from '../tls/index.js';
import { loadConfig } from '../config.js';
import { stringOption, type Command } from './args.js';
import { dataPaths } from './files.js';

/**
 * `keysmith health`: asks the running service for /healthz over its own TLS
 * (the container healthcheck). Exit 0 when healthy, 1 otherwise.
 */
export const healthCommand: Command = {
  name: 'health',
  summary: 'check a running keysmith: GET /healthz over TLS (exit 0 when healthy)',
  usage: 'keysmith health [--config FILE]',
  options: {},
  example: 'keysmith health --config /etc/keysmith/keysmith.yaml',
  async run(parsed) {
    const file = stringOption(parsed, 'config');
    const config = loadConfig({ env: process.env, ...(file === undefined ? {} : { file }) });
    const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
    const ca = readFileSync(dataPaths(config.dataDir).bundle);
    const status = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host, port: config.listen.port, servername: 'localhost', ca, handshakeTimeoutMs: 5_000 });
      const timer = setTimeout(() => socket.destroy(new Error('no answer within 5 s')), 5_000);
      let response = '';
      socket.on('secure', () => socket.write(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
      socket.on('data', (chunk: Buffer) => {
        response += chunk.toString('latin1');
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
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
