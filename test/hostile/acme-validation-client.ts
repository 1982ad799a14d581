/**
 * The ACME client side of test/hostile/acme-validation.test.ts, run in a
 * worker thread: acme-client's signing and parsing then cost the test's
 * event loop nothing, so the /healthz probe there measures keysmith, not
 * the client. One job per worker, given in workerData; the result is posted back.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import { Agent } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';
import * as acme from 'acme-client';

export type ClientJob =
  /** Orders `names` (100 per order) and answers each one's `challenge`; posts how many were answered processing. */
  | { readonly kind: 'start'; readonly names: readonly string[]; readonly challenge: 'http-01' | 'tls-alpn-01' }
  /** Serves http-01 on `port` itself, orders `name`, answers, and posts the challenge's final status. */
  | { readonly kind: 'validate'; readonly name: string; readonly port: number };

export interface ClientWorkerData {
  readonly directoryUrl: string;
  readonly ca: string;
  /** PEM: the same key is the same account across jobs. */
  readonly accountKey: string;
  readonly job: ClientJob;
}

export type ClientResult = { readonly ok: true; readonly value: number | string } | { readonly ok: false; readonly error: string };

const CONCURRENCY = 8;

async function client(data: ClientWorkerData): Promise<{ client: acme.Client; agent: Agent }> {
  const agent = new Agent({ ca: data.ca, keepAlive: true, maxSockets: CONCURRENCY });
  // acme-client sends every request through its axios instance; it trusts keysmith's root and nothing more.
  acme.axios.defaults.httpsAgent = agent;
  const made = new acme.Client({
    directoryUrl: data.directoryUrl,
    accountKey: data.accountKey,
    backoffAttempts: 30,
    backoffMin: 200,
    backoffMax: 1_000,
  });
  await made.createAccount({ termsOfServiceAgreed: true });
  return { client: made, agent };
}

async function inPool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      for (let item = items[next++]; item !== undefined; item = items[next++]) await work(item);
    }),
  );
}

async function start(acmeClient: acme.Client, names: readonly string[], type: 'http-01' | 'tls-alpn-01'): Promise<number> {
  let processing = 0;
  for (let i = 0; i < names.length; i += 100) {
    const order = await acmeClient.createOrder({ identifiers: names.slice(i, i + 100).map((value) => ({ type: 'dns', value })) });
    const authorizations = await acmeClient.getAuthorizations(order);
    await inPool(authorizations, CONCURRENCY, async (authz) => {
      const challenge = authz.challenges.find((c) => c.type === type);
      if (challenge === undefined) throw new Error(`no ${type} challenge for ${authz.identifier.value}`);
      const answered = await acmeClient.completeChallenge(challenge);
      if (answered.status === 'processing') processing++;
    });
  }
  return processing;
}

async function validate(acmeClient: acme.Client, name: string, port: number): Promise<string> {
  const answers = new Map<string, string>();
  const server = createServer((request, response) => {
    const keyAuthorization = answers.get((request.url ?? '').split('/').pop() ?? '');
    response.statusCode = keyAuthorization === undefined ? 404 : 200;
    response.end(keyAuthorization ?? 'not found');
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  try {
    const order = await acmeClient.createOrder({ identifiers: [{ type: 'dns', value: name }] });
    const [authz] = await acmeClient.getAuthorizations(order);
    const challenge = authz?.challenges.find((c) => c.type === 'http-01');
    if (challenge === undefined) throw new Error(`no http-01 challenge for ${name}`);
    answers.set(challenge.token, await acmeClient.getChallengeKeyAuthorization(challenge));
    await acmeClient.completeChallenge(challenge);
    const settled = await acmeClient.waitForValidStatus(challenge);
    return settled.status;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function run(data: ClientWorkerData): Promise<number | string> {
  const { client: acmeClient, agent } = await client(data);
  try {
    const { job } = data;
    return job.kind === 'start' ? await start(acmeClient, job.names, job.challenge) : await validate(acmeClient, job.name, job.port);
  } finally {
    agent.destroy();
  }
}

if (parentPort !== null) {
  const port = parentPort;
  run(workerData as ClientWorkerData).then(
    (value) => port.postMessage({ ok: true, value } satisfies ClientResult),
    (error: unknown) =>
      port.postMessage({
        ok: false,
        error: error instanceof Error ? `${error.message}\n${error.stack ?? ''}` : String(error),
      } satisfies ClientResult),
  );
}
