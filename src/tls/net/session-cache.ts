/**
 * A client-side ticket store, keyed by server (name and port). Each ticket is
 * handed out once (RFC 8446 §C.4 advises against reusing one), and every new
 * ticket the server sends replaces what was used. Bounded: the oldest server
 * is dropped first.
 */
export class SessionCache {
  private readonly sessions = new Map<string, Uint8Array[]>();

  constructor(
    private readonly maxServers = 256,
    private readonly maxTicketsPerServer = 4,
  ) {}

  /** Takes a ticket for this server, if one is stored. */
  take(key: string): Uint8Array | undefined {
    const list = this.sessions.get(key);
    const session = list?.shift();
    if (list !== undefined && list.length === 0) this.sessions.delete(key);
    return session;
  }

  store(key: string, session: Uint8Array): void {
    const list = this.sessions.get(key) ?? [];
    this.sessions.delete(key);
    list.push(session);
    while (list.length > this.maxTicketsPerServer) list.shift();
    this.sessions.set(key, list);
    while (this.sessions.size > this.maxServers) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
  }

  get size(): number {
    return this.sessions.size;
  }
}
