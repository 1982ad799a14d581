/**
 * The operator console (ui/, built by `npm run build` into dist/ui): GET /ui/ and its assets, to admin
 * principals only (the same 401/403 problem documents as the ops API). The files are listed and read once,
 * when the app is built; a request can only ever name one of them, so no path from the network reaches the
 * file system (no traversal to guard). Client routes live in the URL fragment, which never reaches us, but
 * any other extension-less path under /ui/ is answered with index.html too, so a reload or a bookmarked
 * /ui/<anything> still opens the console.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { sendProblem, type ProblemDocument } from '../problem.js';

/** dist/ui, beside dist/src where this module is compiled to (dist/src/http/routes/console.js). */
export const DEFAULT_CONSOLE_DIRECTORY = fileURLToPath(new URL('../../../ui/', import.meta.url));

/**
 * The console's headers on every response under /ui (CSP Level 3 fetch directives; the bundle has no inline
 * script or style and never calls eval). frame-ancestors and X-Frame-Options keep it out of frames (clickjacking
 * a revoke button); no-referrer keeps serials and SPIFFE IDs in URLs from leaking in Referer headers.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

export const INDEX_CACHE_CONTROL = 'no-cache';
/** Asset names carry a content hash (vite), so a name never changes meaning (RFC 8246 immutable). */
export const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

interface ConsoleFile {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
}

/** The built console: its files by path relative to the directory ('index.html', 'assets/index-3f2a.js'). */
export type ConsoleFiles = ReadonlyMap<string, ConsoleFile>;

/** Regular files under `directory` (symbolic links and dot-files are not served); undefined when there is no index.html. */
export function readConsoleFiles(directory: string): ConsoleFiles | undefined {
  const files = new Map<string, ConsoleFile>();
  const walk = (relative: string): void => {
    const entries = readdirSync(join(directory, relative), { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const path = relative === '' ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        files.set(path, {
          body: readFileSync(join(directory, path)),
          contentType: CONTENT_TYPES[extname(entry.name).toLowerCase()] ?? 'application/octet-stream',
          cacheControl: path === 'index.html' ? INDEX_CACHE_CONTROL : ASSET_CACHE_CONTROL,
        });
      }
    }
  };
  try {
    if (!statSync(directory).isDirectory()) return undefined;
    walk('');
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  return files.has('index.html') ? files : undefined;
}

function isMissing(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null && 'code' in error ? error.code : undefined;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Segments separated by single slashes; unambiguous, so matching stays linear in the path's length. */
const CLIENT_ROUTE = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*\/?$/;

/** What a path under /ui/ names: one of the files, the console's page (a client route), or nothing. */
export function resolveConsolePath(files: ConsoleFiles, path: string): ConsoleFile | undefined {
  const exact = files.get(path);
  if (exact !== undefined) return exact;
  // A client route is letters, digits, '-', '_' and single slashes: anything that looks like a file (assets/,
  // a dot anywhere, so '..' too) or carries percent-encoding, backslashes or empty segments is not one.
  if (path.startsWith('assets/') || !CLIENT_ROUTE.test(path)) return undefined;
  return files.get('index.html');
}

function notBuilt(instance: string): ProblemDocument {
  // RFC 9457 §4.2.1: about:blank; the detail says what to do.
  return {
    type: 'about:blank',
    title: 'Service Unavailable',
    status: 503,
    detail: 'The console is not built: run `npm run build`, which builds it into dist/ui, then restart keysmith.',
    instance,
  };
}

function notFound(instance: string): ProblemDocument {
  return {
    type: 'https://keysmith.dev/problems/not-found',
    title: 'Not found',
    status: 404,
    detail: `The console has no file ${instance}.`,
    instance,
  };
}

function sendFile(reply: FastifyReply, file: ConsoleFile): FastifyReply {
  return reply.code(200).header('cache-control', file.cacheControl).type(file.contentType).send(file.body);
}

export interface ConsoleRouteOptions {
  /** Where the built console lives (default: dist/ui beside the compiled service). */
  readonly directory?: string;
}

/**
 * GET /ui (redirect), GET /ui/ and GET /ui/*, admin access. Hidden from the OpenAPI document: a web page, not
 * an API operation. Not on early-data.ts's list of reads safe from TLS 0-RTT: a browser that sent one in early
 * data gets 425 and sends it again after the handshake (RFC 8470 §5.2), so the admin surface is never served
 * from bytes an attacker could replay.
 */
export function registerConsoleRoutes(app: FastifyInstance, options: ConsoleRouteOptions = {}): void {
  const files = readConsoleFiles(options.directory ?? DEFAULT_CONSOLE_DIRECTORY);
  void app.register(async (scope) => {
    // Every console response, refusals from the access policy included, carries the console's headers.
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.headers(CONSOLE_SECURITY_HEADERS);
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
      return payload;
    });
    const route = { config: { access: 'admin' as const }, schema: { hide: true } };
    scope.get('/ui', route, async (_request, reply) => reply.redirect('/ui/', 301));
    // find-my-way hands the wildcard over percent-decoded: '/ui/%2e%2e/x' arrives as '../x' (no client route, so 404).
    scope.get<{ Params: { '*': string } }>('/ui/*', route, async (request, reply) => {
      const instance = request.url.split('?', 1)[0] ?? request.url;
      if (files === undefined) return sendProblem(reply, notBuilt(instance));
      const path = request.params['*'];
      const file = resolveConsolePath(files, path === '' ? 'index.html' : path);
      if (file === undefined) return sendProblem(reply, notFound(instance.slice(0, 256)));
      return sendFile(reply, file);
    });
  });
}
