import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONSOLE_DIRECTORY, readConsoleFiles, resolveConsolePath } from '../../../src/http/routes/console.js';

/** dist/ui as `npm run build` leaves it (this file runs from dist/test/unit/http). */
const BUILT = fileURLToPath(new URL('../../../ui/', import.meta.url));

function builtFiles() {
  const files = readConsoleFiles(DEFAULT_CONSOLE_DIRECTORY);
  assert.ok(files !== undefined, `no console in ${DEFAULT_CONSOLE_DIRECTORY}: run \`npm run build\` (tsc, then vite) before the tests`);
  return files;
}

function text(body: Buffer | undefined): string {
  assert.ok(body !== undefined);
  return body.toString('utf8');
}

describe('the built console (dist/ui) fits its Content-Security-Policy', () => {
  it('is found where the service looks for it: dist/ui beside dist/src', () => {
    assert.equal(DEFAULT_CONSOLE_DIRECTORY, BUILT);
    assert.ok(existsSync(BUILT), 'run `npm run build`');
  });

  it('has an index.html with no inline script, inline style, event handler or foreign URL', () => {
    const html = text(builtFiles().get('index.html')?.body);
    // script-src 'self': every <script> names a file; none carries code.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    assert.ok(scripts.length >= 1, 'the page loads its bundle');
    for (const [, attributes, body] of scripts) {
      assert.match(attributes ?? '', /\bsrc="\/ui\/assets\/[^"]+\.js"/);
      assert.equal((body ?? '').trim(), '', 'an inline script would need unsafe-inline');
    }
    // style-src 'self': no <style> element and no style attribute.
    assert.doesNotMatch(html, /<style\b/i);
    assert.doesNotMatch(html, /\sstyle\s*=/i);
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'inline event handlers are inline script');
    // No CDN: nothing fetched from another origin.
    assert.doesNotMatch(html, /(?:src|href)\s*=\s*"(?:https?:)?\/\//i);
  });

  it('references only hashed files under /ui/assets/ that the service serves, with known content types', () => {
    const files = builtFiles();
    const html = text(files.get('index.html')?.body);
    const references = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map((match) => match[1] ?? '');
    assert.ok(
      references.some((ref) => ref.endsWith('.css')),
      'the stylesheet is a file',
    );
    for (const reference of references) {
      assert.match(reference, /^\/ui\/assets\/[A-Za-z0-9._-]+-[A-Za-z0-9_-]{8}\.(?:js|css|svg)$/, reference);
      const file = resolveConsolePath(files, reference.slice('/ui/'.length));
      assert.ok(file !== undefined, `${reference} is listed`);
      assert.notEqual(file.contentType, 'application/octet-stream', reference);
      assert.equal(file.cacheControl, 'public, max-age=31536000, immutable');
    }
    for (const path of files.keys()) assert.ok(path === 'index.html' || path.startsWith('assets/'), path);
  });

  it('ships no eval or Function constructor (script-src has no unsafe-eval)', () => {
    const files = builtFiles();
    for (const [path, file] of files) {
      if (!path.endsWith('.js')) continue;
      const code = text(file.body);
      assert.doesNotMatch(code, /\beval\(/, path);
      assert.doesNotMatch(code, /new Function\(/, path);
    }
  });
});
