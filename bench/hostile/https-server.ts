/**
 * The comparison server for bench/hostile/pipelining.ts: node:https (node:tls
 * underneath) with keysmith's own listener certificate, answering
 * GET /healthz and GET /openapi.json with the document keysmith serves,
 * serialized per response as fastify does. Run as a child:
 *   node https-server.js KEY.pem CERT.pem OPENAPI.json
 * It prints `listening PORT` once bound to 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';

const [keyPath, certPath, documentPath] = process.argv.slice(2);
if (keyPath === undefined || certPath === undefined || documentPath === undefined) {
  console.error('usage: https-server KEY.pem CERT.pem OPENAPI.json');
  process.exit(2);
}
const document: unknown = JSON.parse(readFileSync(documentPath, 'utf8'));
const server = createServer({ key: readFileSync(keyPath), cert: readFileSync(certPath) }, (request, response) => {
  if (request.url === '/healthz') {
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{"status":"ok"}');
    return;
  }
  response.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(document));
});
server.listen(0, '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));
