import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP relay in front of a real server (PostgreSQL in the tests
 * that take "the database down"): `cut()` resets every relayed connection and
 * stops listening, so the client sees what a stopped server gives it
 * (ECONNRESET on open connections, ECONNREFUSED on new ones); `restore()`
 * listens again on the same port. Nothing is faked past the socket.
 */
export interface TcpProxy {
  readonly port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  const relay = (client: Socket): void => {
    const upstream = connect(targetPort, targetHost);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  };
  let server: Server = createServer(relay);
  const listen = async (port: number): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const address = server.address();
        if (address === null || typeof address === 'string') reject(new Error('the proxy has no port'));
        else resolve(address.port);
      });
    });
  const port = await listen(0);
  let isListening = true;
  const stop = async (): Promise<void> => {
    if (!isListening) return;
    isListening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.resetAndDestroy();
    await closed;
  };
  return {
    port,
    cut: stop,
    async restore() {
      if (isListening) return;
      server = createServer(relay);
      await listen(port);
      isListening = true;
    },
    close: stop,
  };
}
