import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlattenedSign, type JWSHeaderParameters } from 'jose';
import { makeCsr, newKey, thumbprintOf, type SigningKey } from '../integration/acme/protocol-client.js';
import { call, type Reply } from './clients.js';

/**
 * An ACME client (RFC 8555) that opens a new TLS connection through the
 * balancer for every request, so that in round robin each request of one
 * order lands on the next node: a nonce minted by one node is spent on
 * another, an account made on one node signs on the others, a challenge
 * answered on one node is polled on another. lego and certbot keep one
 * connection for a whole order (HTTP keep-alive), which in TCP mode pins it
 * to one node; this client shows what they would see if their connections
 * were cut between requests. Each step records which node answered (the
 * listener certificate's serial) and which node minted the nonce it spent.
 */

export interface AcmeStep {
  readonly what: string;
  readonly status: number;
  /** Serial of the listener certificate that answered (one per node). */
  readonly node: string;
  /** For a POST: the node whose reply carried the nonce this request spent. */
  readonly nonceFrom?: string;
}

export interface RoundRobinOrder {
  readonly steps: readonly AcmeStep[];
  /** The issued chain, PEM, leaf first. */
  readonly chain: string;
}

export interface RoundRobinOptions {
  readonly balancerPort: number;
  /** The nodes' KEYSMITH_PUBLIC_URL: every ACME URL starts with it. */
  readonly publicUrl: string;
  readonly ca: string;
  /** Where the CSR's key and DER go (openssl). */
  readonly dir: string;
  readonly name: string;
  /** 127.0.0.1 port the nodes fetch http-01 answers from (KEYSMITH_ACME_HTTP01_PORT). */
  readonly http01Port: number;
  /** Bound on each wait for a status (authorization valid, order valid). */
  readonly pollTimeoutMs: number;
}

class RoundRobinClient {
  readonly steps: AcmeStep[] = [];
  private nonce: { value: string; from: string } | undefined;
  private accountKid: string | undefined;

  constructor(
    private readonly options: RoundRobinOptions,
    private readonly key: SigningKey,
  ) {}

  async get(what: string, method: 'GET' | 'HEAD', url: string): Promise<Reply> {
    return this.record(what, await call(this.options.balancerPort, method, this.path(url), { ca: this.options.ca }));
  }

  async post(what: string, url: string, payload: object | ''): Promise<Reply> {
    const nonce = this.nonce ?? (await this.freshNonce());
    this.nonce = undefined;
    const header: JWSHeaderParameters = {
      alg: this.key.alg,
      url,
      nonce: nonce.value,
      ...(this.accountKid === undefined ? { jwk: { ...this.key.jwk } } : { kid: this.accountKid }),
    };
    const bytes = new TextEncoder().encode(payload === '' ? '' : JSON.stringify(payload));
    const signed = await new FlattenedSign(bytes).setProtectedHeader(header).sign(this.key.privateKey);
    const body = { protected: signed.protected ?? '', payload: signed.payload, signature: signed.signature };
    const reply = await call(this.options.balancerPort, 'POST', this.path(url), {
      ca: this.options.ca,
      body,
      contentType: 'application/jose+json',
    });
    return this.record(what, reply, nonce.from);
  }

  set kid(kid: string) {
    this.accountKid = kid;
  }

  private async freshNonce(): Promise<{ value: string; from: string }> {
    await this.get('newNonce', 'HEAD', `${this.options.publicUrl}/acme/new-nonce`);
    const nonce = this.nonce;
    if (nonce === undefined) throw new Error('HEAD new-nonce gave no Replay-Nonce');
    return nonce;
  }

  private record(what: string, reply: Reply, nonceFrom?: string): Reply {
    this.steps.push({ what, status: reply.status, node: reply.peerSerial, ...(nonceFrom === undefined ? {} : { nonceFrom }) });
    const replayNonce = reply.headers['replay-nonce'];
    if (typeof replayNonce === 'string') this.nonce = { value: replayNonce, from: reply.peerSerial };
    if (reply.status >= 400) throw new Error(`ACME ${what} answered ${reply.status}: ${reply.body.toString('utf8')}`);
    return reply;
  }

  private path(url: string): string {
    if (!url.startsWith(this.options.publicUrl)) throw new Error(`${url} is not under ${this.options.publicUrl}`);
    return url.slice(this.options.publicUrl.length);
  }
}

/** Account, order, http-01, finalize and download for one DNS name, every request on a connection of its own. */
export async function orderRoundRobin(options: RoundRobinOptions): Promise<RoundRobinOrder> {
  const key = await newKey('p256');
  const client = new RoundRobinClient(options, key);
  const responder = await startHttp01Responder(options.http01Port, await thumbprintOf(key));
  try {
    const directory = (await client.get('directory', 'GET', `${options.publicUrl}/acme/directory`)).json();
    const account = await client.post('newAccount', String(directory['newAccount']), {
      termsOfServiceAgreed: true,
      contact: ['mailto:ops@example.test'],
    });
    client.kid = String(account.headers['location']);
    const order = await client.post('newOrder', String(directory['newOrder']), { identifiers: [{ type: 'dns', value: options.name }] });
    const orderUrl = String(order.headers['location']);
    const [authzUrl] = order.json()['authorizations'] as string[];
    const authz = (await client.post('authorization', String(authzUrl), '')).json();
    const challenge = (authz['challenges'] as Array<{ type: string; url: string; token: string }>).find((c) => c.type === 'http-01');
    if (challenge === undefined) throw new Error('no http-01 challenge offered');
    await client.post('challenge', challenge.url, {});
    await pollStatus(() => client.post('authorization (poll)', String(authzUrl), ''), 'valid', options.pollTimeoutMs);
    const { csr } = makeCsr(options.dir, { dns: [options.name] });
    await client.post('finalize', String(order.json()['finalize']), { csr });
    const done = await pollStatus(() => client.post('order (poll)', orderUrl, ''), 'valid', options.pollTimeoutMs);
    const chain = (await client.post('certificate', String(done['certificate']), '')).body.toString('utf8');
    return { steps: client.steps, chain };
  } finally {
    responder.close();
    await once(responder, 'close');
  }
}

/** POST-as-GET until the object's status is `wanted` (bounded); fails at once on `invalid`. */
async function pollStatus(fetch: () => Promise<Reply>, wanted: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const object = (await fetch()).json();
    if (object['status'] === wanted) return object;
    if (object['status'] === 'invalid') throw new Error(`the ACME object became invalid: ${JSON.stringify(object)}`);
    if (performance.now() > deadline) throw new Error(`still ${String(object['status'])} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Answers /.well-known/acme-challenge/<token> with the key authorization (RFC 8555 §8.3), on 127.0.0.1. */
async function startHttp01Responder(port: number, thumbprint: string): Promise<Server> {
  const server = createServer((req, res) => {
    const token = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
    if (token === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(`${token}.${thumbprint}`);
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}
