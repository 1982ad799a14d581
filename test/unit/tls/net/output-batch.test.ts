import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { OutputBatch } from '../../../../src/tls/net/output-batch.js';

/** A real TCP pair on 127.0.0.1; the batch writes on `near`, the test reads `far`. */
async function tcpPair(server: Server): Promise<{ near: Socket; far: Socket }> {
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const near = connect(address.port, '127.0.0.1');
  await once(near, 'connect');
  const [far] = await accepted;
  return { near, far };
}

/** Counts the socket's own writes as its Writable hands them to libuv. */
function countWrites(socket: Socket): number[][] {
  const writes: number[][] = [];
  const target = socket as unknown as {
    _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void;
    _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void;
  };
  const write = target._write.bind(socket);
  const writev = target._writev.bind(socket);
  target._write = (chunk, encoding, cb) => {
    writes.push([chunk.length]);
    write(chunk, encoding, cb);
  };
  target._writev = (chunks, cb) => {
    writes.push(chunks.map((c) => c.chunk.length));
    writev(chunks, cb);
  };
  return writes;
}

function readExactly(socket: Socket, length: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer): void => {
      parts.push(chunk);
      got += chunk.length;
      if (got < length) return;
      socket.off('data', onData);
      resolve(Buffer.concat(parts));
    };
    socket.on('data', onData);
  });
}

describe('OutputBatch', () => {
  let server: Server;

  before(async () => {
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('writes everything added in one turn as one vectored write, in order, and counts it until then', async () => {
    const { near, far } = await tcpPair(server);
    const writes = countWrites(near);
    const batch = new OutputBatch(near);
    batch.add([Buffer.from('one,')]);
    batch.add([Buffer.from('two,'), Buffer.from('three')]);
    batch.schedule();
    batch.schedule();
    assert.equal(batch.bytes, 13);
    assert.deepEqual(writes, []);
    assert.equal((await readExactly(far, 13)).toString(), 'one,two,three');
    assert.deepEqual(writes, [[4, 4, 5]]);
    assert.equal(batch.bytes, 0);
    near.destroy();
    far.destroy();
  });

  it('calls writers back once the transport took the write; flush() writes at once', async () => {
    const { near, far } = await tcpPair(server);
    const writes = countWrites(near);
    const batch = new OutputBatch(near);
    const calls: string[] = [];
    batch.add([Buffer.from('abc')]);
    batch.onWritten((err) => calls.push(`written ${String(err ?? 'ok')}`));
    batch.flush();
    assert.deepEqual(writes, [[3]]);
    assert.equal((await readExactly(far, 3)).toString(), 'abc');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(calls, ['written ok']);
    near.destroy();
    far.destroy();
  });

  it('fails waiting writers when dropped or when the transport is gone, and writes nothing', async () => {
    const { near, far } = await tcpPair(server);
    const writes = countWrites(near);
    const batch = new OutputBatch(near);
    const errors: string[] = [];
    batch.add([Buffer.from('lost')]);
    batch.onWritten((err) => errors.push(err?.message ?? 'none'));
    batch.drop(new Error('reset by peer'));
    assert.equal(batch.bytes, 0);
    near.destroy();
    batch.add([Buffer.from('late')]);
    batch.onWritten((err) => errors.push(err?.message ?? 'none'));
    batch.flush();
    assert.deepEqual(errors, ['reset by peer', 'socket destroyed']);
    assert.deepEqual(writes, []);
    far.destroy();
  });
});
