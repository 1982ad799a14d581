import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import { portOf, withTimeout, DEFAULT_WAIT_MS } from './processes.js';

/**
 * A small authoritative DNS server on 127.0.0.1 (UDP) for tests: it answers
 * A, AAAA and TXT queries from in-memory maps. A name it holds answers
 * NOERROR (with no records of a type it lacks); any other name is NXDOMAIN.
 * `failWith` makes a name answer SERVFAIL or REFUSED.
 *
 * Point node:dns at it with `resolver.setServers([responder.server])`, the
 * validator with `dnsResolver: responder.server`, and acme-client's dns-01
 * hooks at `setTxt` / `clear`.
 */
export interface DnsResponder {
  readonly address: '127.0.0.1';
  readonly port: number;
  /** "127.0.0.1:<port>", the form node:dns setServers and KEYSMITH_ACME_DNS_RESOLVER take. */
  readonly server: string;
  /** Replaces the TXT records of `name` (each value is one record). */
  setTxt(name: string, values: readonly string[]): void;
  setA(name: string, addresses: readonly string[]): void;
  setAaaa(name: string, addresses: readonly string[]): void;
  /** Answers every query for `name` with this response code. */
  failWith(name: string, rcode: 'SERVFAIL' | 'REFUSED'): void;
  /** Forgets every record and failure of `name` (it becomes NXDOMAIN). */
  clear(name: string): void;
  /** The questions received so far, as "TYPE name", in order. */
  readonly queries: readonly string[];
  close(): Promise<void>;
}

interface Zone {
  txt: readonly string[];
  a: readonly string[];
  aaaa: readonly string[];
  failure: 'SERVFAIL' | 'REFUSED' | undefined;
}

/** RFC 1035 §4.1.1 RCODE values. */
const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;
/** One TXT character-string holds at most 255 octets (RFC 1035 §3.3.14). */
const MAX_CHARACTER_STRING = 255;
const TTL_SECONDS = 1;

/** DNS names compare case-insensitively (RFC 4343); a trailing dot means the same name. */
function keyOf(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function splitTxt(value: string): Buffer[] {
  const bytes = Buffer.from(value, 'utf8');
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += MAX_CHARACTER_STRING) parts.push(bytes.subarray(i, i + MAX_CHARACTER_STRING));
  return parts.length === 0 ? [Buffer.alloc(0)] : parts;
}

export async function startDnsResponder(): Promise<DnsResponder> {
  const zones = new Map<string, Zone>();
  const queries: string[] = [];
  const socket: Socket = createSocket('udp4');
  socket.on('message', (message, remote) => answer(socket, zones, queries, message, remote));
  // A malformed datagram or a send failure must not crash the test process.
  socket.on('error', () => {});
  socket.bind(0, '127.0.0.1');
  await withTimeout(once(socket, 'listening'), DEFAULT_WAIT_MS, 'binding the DNS responder');
  const port = portOf(socket.address());

  const zone = (name: string): Zone => {
    const key = keyOf(name);
    let found = zones.get(key);
    if (found === undefined) {
      found = { txt: [], a: [], aaaa: [], failure: undefined };
      zones.set(key, found);
    }
    return found;
  };

  return {
    address: '127.0.0.1',
    port,
    server: `127.0.0.1:${port}`,
    setTxt: (name, values) => void (zone(name).txt = [...values]),
    setA: (name, addresses) => void (zone(name).a = [...addresses]),
    setAaaa: (name, addresses) => void (zone(name).aaaa = [...addresses]),
    failWith: (name, rcode) => void (zone(name).failure = rcode),
    clear: (name) => void zones.delete(keyOf(name)),
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function answer(socket: Socket, zones: ReadonlyMap<string, Zone>, queries: string[], message: Buffer, remote: RemoteInfo): void {
  let query: dnsPacket.DecodedPacket;
  try {
    query = dnsPacket.decode(message);
  } catch {
    return; // Not DNS: dropped, as a real server would.
  }
  const [question] = query.questions ?? [];
  if (query.type !== 'query' || question === undefined) return;
  queries.push(`${question.type} ${question.name}`);
  const zone = zones.get(keyOf(question.name));
  const answers: dnsPacket.Answer[] = [];
  let rcode: number = zone === undefined ? RCODE.NXDOMAIN : RCODE.NOERROR;
  if (zone?.failure !== undefined) {
    rcode = RCODE[zone.failure];
  } else if (zone !== undefined) {
    const base = { name: question.name, class: 'IN' as const, ttl: TTL_SECONDS };
    if (question.type === 'TXT') for (const value of zone.txt) answers.push({ ...base, type: 'TXT', data: splitTxt(value) });
    if (question.type === 'A') for (const address of zone.a) answers.push({ ...base, type: 'A', data: address });
    if (question.type === 'AAAA') for (const address of zone.aaaa) answers.push({ ...base, type: 'AAAA', data: address });
  }
  const response = dnsPacket.encode({
    type: 'response',
    id: query.id ?? 0,
    // Authoritative answer, recursion desired echoed from the query, and the response code in the low 4 bits.
    flags: dnsPacket.AUTHORITATIVE_ANSWER | (query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0) | rcode,
    questions: [question],
    answers,
  });
  socket.send(response, remote.port, remote.address);
}
