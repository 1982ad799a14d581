/**
 * SMTP servers an attacker could run, on raw sockets so every byte is ours to
 * time and every command the client sends is seen: one that drips its EHLO
 * reply one continuation line at a time, for ever (bounded: it stops by
 * itself after `maxLines`), and one that offers no STARTTLS but takes AUTH.
 * Also the receivers for webhook tests that stream a huge body lazily or
 * drip their head. Everything listens on 127.0.0.1:0.
 */
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { portOf } from '../../helpers/processes.js';

export interface SmtpConnectionRecord {
  /** performance.now() when the client connected and when its socket closed (undefined while open). */
  readonly openedAt: number;
  closedAt: number | undefined;
  /** Command lines the client sent, without CRLF (message bodies not included). */
  readonly commands: string[];
}

export interface ScriptedSmtpOptions {
  /** Drip: after EHLO, one `250-` continuation line every `dripMs`, never the final line. */
  readonly dripMs?: number;
  /** The drip stops (and the socket is left silent) after this many lines; bounds the server's own work. */
  readonly maxLines?: number;
  /** Offer STARTTLS in EHLO (this server never completes it: it answers 454). */
  readonly offerStartTls?: boolean;
}

/** A scripted SMTP server: plain text only, AUTH accepted, every command recorded. */
export class ScriptedSmtpServer {
  readonly connections: SmtpConnectionRecord[] = [];
  /** Whole messages received after DATA. */
  readonly messages: string[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly options: ScriptedSmtpOptions,
  ) {}

  static async start(options: ScriptedSmtpOptions = {}): Promise<ScriptedSmtpServer> {
    const server = createServer();
    const scripted = new ScriptedSmtpServer(server, options);
    server.on('connection', (socket) => scripted.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return scripted;
  }

  get port(): number {
    return portOf(this.server.address());
  }

  /** Every command line any client sent. */
  get commands(): string[] {
    return this.connections.flatMap((c) => c.commands);
  }

  get openConnections(): number {
    return this.sockets.size;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    const record: SmtpConnectionRecord = { openedAt: performance.now(), closedAt: undefined, commands: [] };
    this.connections.push(record);
    this.sockets.add(socket);
    let drip: NodeJS.Timeout | undefined;
    let buffered = '';
    let inData = false;
    let data = '';
    const say = (line: string): void => {
      if (!socket.destroyed) socket.write(`${line}\r\n`);
    };
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(drip);
      record.closedAt = performance.now();
      this.sockets.delete(socket);
    });
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      // Bounded: a client that never sends CRLF cannot grow this past 64 KiB.
      if (buffered.length > 65_536) socket.destroy();
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (inData) {
          if (line === '.') {
            inData = false;
            this.messages.push(data);
            data = '';
            say('250 2.0.0 queued');
          } else {
            data += `${line}\n`;
          }
          continue;
        }
        record.commands.push(line);
        const verb = line.split(' ')[0]?.toUpperCase() ?? '';
        switch (verb) {
          case 'EHLO': {
            if (this.options.dripMs !== undefined) {
              let lines = 0;
              say('250-drip.test greets you, slowly');
              drip = setInterval(() => {
                lines += 1;
                if (lines > (this.options.maxLines ?? 600)) clearInterval(drip);
                else say(`250-X-DRIP-${lines}`);
              }, this.options.dripMs);
              break;
            }
            say('250-plain.test');
            if (this.options.offerStartTls === true) say('250-STARTTLS');
            say('250-AUTH PLAIN');
            say('250 8BITMIME');
            break;
          }
          case 'HELO':
            say('250 plain.test');
            break;
          case 'STARTTLS':
            // RFC 3207 §4: 454 TLS not available due to temporary reason.
            say('454 4.7.0 TLS not available');
            break;
          case 'AUTH':
            say('235 2.7.0 Authentication successful');
            break;
          case 'MAIL':
          case 'RCPT':
          case 'RSET':
          case 'NOOP':
            say('250 2.1.0 OK');
            break;
          case 'DATA':
            inData = true;
            say('354 End data with <CR><LF>.<CR><LF>');
            break;
          case 'QUIT':
            say('221 2.0.0 Bye');
            socket.end();
            break;
          default:
            say('502 5.5.2 Command not recognized');
        }
      }
    });
    say('220 scripted.test ESMTP');
  }
}

/** A webhook receiver whose every answer is `status` with a lazily generated body of `bodyBytes`; counts what it produced. */
export class StreamingWebhook {
  /** Body bytes handed to the socket (pushed into the response stream), all requests together. */
  producedBytes = 0;
  requests = 0;
  /** performance.now() when each response's connection closed. */
  readonly closedAt: number[] = [];

  private constructor(private readonly server: HttpServer) {}

  static async start(status: number, bodyBytes: number): Promise<StreamingWebhook> {
    const server = createHttpServer();
    const hook = new StreamingWebhook(server);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    server.on('request', (req, res) => {
      hook.requests += 1;
      req.resume();
      let left = bodyBytes;
      const body = new Readable({
        read() {
          if (left <= 0) {
            this.push(null);
            return;
          }
          const piece = left >= chunk.byteLength ? chunk : chunk.subarray(0, left);
          left -= piece.byteLength;
          hook.producedBytes += piece.byteLength;
          this.push(piece);
        },
      });
      res.on('close', () => {
        hook.closedAt.push(performance.now());
        body.destroy();
      });
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(bodyBytes) });
      body.pipe(res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return hook;
  }

  get url(): string {
    return `http://127.0.0.1:${portOf(this.server.address())}/hooks/keysmith?token=t0ps3cret`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** An HTTP peer that reads the request, then drips its status line and headers one byte every `dripMs` (never finishing). */
export class DrippingHttpPeer {
  readonly closedAt: number[] = [];
  readonly openedAt: number[] = [];
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server) {}

  static async start(dripMs: number): Promise<DrippingHttpPeer> {
    const server = createServer();
    const peer = new DrippingHttpPeer(server);
    const head = Buffer.from(`HTTP/1.1 200 OK\r\nx-drip: ${'a'.repeat(4_000)}`, 'latin1');
    server.on('connection', (socket) => {
      peer.openedAt.push(performance.now());
      peer.sockets.add(socket);
      let sent = 0;
      const timer = setInterval(() => {
        // Bounded: the head is 4 KiB, so the drip ends by itself.
        if (sent >= head.byteLength) clearInterval(timer);
        else socket.write(head.subarray(sent, ++sent));
      }, dripMs);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearInterval(timer);
        peer.closedAt.push(performance.now());
        peer.sockets.delete(socket);
      });
      socket.resume();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return peer;
  }

  get url(): string {
    return `http://127.0.0.1:${portOf(this.server.address())}/hook`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
