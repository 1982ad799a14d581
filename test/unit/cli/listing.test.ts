import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { formatTimeLeft, printListing, type Page } from '../../../src/cli/listing.js';

/**
 * printListing walks pages one at a time: each page is written (and the
 * writer's back-pressure honoured) before the next is asked for, so --all
 * holds one page in memory whatever the listing's size; --json stays ONE
 * document. formatTimeLeft's boundaries, exactly.
 */

/** A slow reader: a small buffer, and each chunk acknowledged a turn later. */
class SlowSink extends Writable {
  text = '';
  constructor() {
    super({ highWaterMark: 1024 });
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    setImmediate(() => {
      this.text += chunk.toString('utf8');
      done();
    });
  }
}

const PAGE = 500;
const PAGES = 5;

function pagedSource(sink: SlowSink): {
  fetch: (cursor: string | undefined, limit: number) => Promise<Page<number>>;
  asked: (string | undefined)[];
} {
  const asked: (string | undefined)[] = [];
  return {
    asked,
    fetch: async (cursor, limit) => {
      assert.equal(limit, PAGE);
      asked.push(cursor);
      const index = cursor === undefined ? 0 : Number(cursor);
      if (asked.length > 1) {
        // The previous page (fetched in this call) is already out, all of it, before this one is read.
        const last = index * PAGE - 1;
        assert.ok(
          sink.text.includes(`row ${last}\n`) || sink.text.includes(`{"n":${last}}`),
          `page ${index - 1} written before page ${index} is fetched`,
        );
      }
      const items = Array.from({ length: PAGE }, (_, i) => index * PAGE + i);
      return { items, nextCursor: index + 1 < PAGES ? String(index + 1) : null };
    },
  };
}

describe('printListing', () => {
  it('--all, table: writes each page before fetching the next; one header; every row once', async () => {
    const sink = new SlowSink();
    const source = pagedSource(sink);
    const count = await printListing(
      { key: 'rows', fetch: source.fetch, toJson: (n) => ({ n }), header: ['ROW'], toRow: (n) => [`row ${n}`], empty: '(none)' },
      { limit: PAGE, cursor: undefined, all: true },
      false,
      sink,
    );
    await new Promise<void>((resolve) => sink.end(resolve));
    assert.equal(count, PAGE * PAGES);
    assert.deepEqual(source.asked, [undefined, '1', '2', '3', '4']);
    const lines = sink.text.trimEnd().split('\n');
    assert.equal(lines[0], 'ROW');
    assert.deepEqual(
      lines.slice(1),
      Array.from({ length: PAGE * PAGES }, (_, n) => `row ${n}`),
    );
  });

  it('--all --json: one document, written page by page, next_cursor null', async () => {
    const sink = new SlowSink();
    const source = pagedSource(sink);
    await printListing(
      { key: 'rows', fetch: source.fetch, toJson: (n) => ({ n }), header: ['ROW'], toRow: (n) => [`row ${n}`], empty: '(none)' },
      { limit: PAGE, cursor: undefined, all: true },
      true,
      sink,
    );
    await new Promise<void>((resolve) => sink.end(resolve));
    assert.ok(sink.text.endsWith('}\n'));
    assert.deepEqual(JSON.parse(sink.text), { rows: Array.from({ length: PAGE * PAGES }, (_, n) => ({ n })), next_cursor: null });
  });

  it('one page from a cursor: only that page, and its next_cursor', async () => {
    const sink = new SlowSink();
    const source = pagedSource(sink);
    await printListing(
      { key: 'rows', fetch: source.fetch, toJson: (n) => ({ n }), header: ['ROW'], toRow: (n) => [`row ${n}`], empty: '(none)' },
      { limit: PAGE, cursor: '3', all: false },
      true,
      sink,
    );
    await new Promise<void>((resolve) => sink.end(resolve));
    assert.deepEqual(source.asked, ['3']);
    assert.deepEqual(JSON.parse(sink.text), { rows: Array.from({ length: PAGE }, (_, i) => ({ n: 3 * PAGE + i })), next_cursor: '4' });
  });

  it('an empty listing: the header and the empty line, or an empty array', async () => {
    const empty = async (): Promise<Page<number>> => ({ items: [], nextCursor: null });
    const spec = {
      key: 'rows',
      fetch: empty,
      toJson: (n: number) => n,
      header: ['A', 'B'],
      toRow: (n: number) => [String(n), ''],
      empty: '(none)',
    };
    const table = new SlowSink();
    assert.equal(await printListing(spec, { limit: 10, cursor: undefined, all: true }, false, table), 0);
    const json = new SlowSink();
    await printListing(spec, { limit: 10, cursor: undefined, all: true }, true, json);
    await Promise.all([new Promise<void>((r) => table.end(r)), new Promise<void>((r) => json.end(r))]);
    assert.equal(table.text, 'A  B\n(none)\n');
    assert.equal(json.text, '{"rows":[],"next_cursor":null}\n');
  });
});

describe('formatTimeLeft', () => {
  const M = 60_000;
  const H = 60 * M;
  const cases: [number, string][] = [
    [-1, 'expired'],
    [0, '<1m'],
    [M - 1, '<1m'],
    [M, '1m'],
    [59 * M + 59_999, '59m'],
    [H, '1h00m'],
    [5 * H + 7 * M + 30_000, '5h07m'],
    [24 * H - 1, '23h59m'],
    [24 * H, '1d'],
    [30 * 24 * H + 5 * H, '30d'],
  ];
  for (const [left, shown] of cases) {
    it(`${left} ms left reads ${shown}`, () => {
      assert.equal(formatTimeLeft(1_000_000_000_000 + left, 1_000_000_000_000), shown);
    });
  }
});
