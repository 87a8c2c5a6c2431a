/**
 * The status page (public/: index.html, app.js, style.css; no build step), served at `/` and at
 * `/ui/`, under whatever prefix the gateway is mounted at.
 *
 * The page uses relative URLs only (`api/events`, `app.js`), so that it works under a prefix. Two
 * traps follow, handled here:
 * - `/llm` (no trailing slash) would resolve `app.js` to `/app.js`: redirect to `/llm/` first.
 * - At `/ui/`, relative URLs would point into `/ui/api/...`: the page is sent there with
 *   `<base href="../">`, so everything resolves against the gateway's root as it does at `/`.
 */
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { packageRoot } from '../lib/package-root.js';

/** siesta's public/ (the same directory for the sources and the compiled build). */
export function findPublicDir(): string {
  const dir = `${packageRoot()}public/`;
  if (existsSync(`${dir}index.html`)) return dir;
  throw new Error(`siesta: the status page (${dir}index.html) is missing from the installation`);
}

export interface StatusPageOptions {
  readonly publicDir?: string;
  /** Runs before every page file (the admin auth). */
  readonly guard: RequestHandler;
}

/** Add a `<base href>` right after `<head>`. */
export function withBase(html: string, href: string): string {
  return html.replace(/<head>/i, `<head>\n    <base href="${href}">`);
}

/** The path part of the URL the client asked for, with a trailing slash added when missing; null when it has one. */
export function slashRedirect(originalUrl: string): string | null {
  const [path = '', query] = originalUrl.split(/\?(.*)/s, 2);
  if (path.endsWith('/')) return null;
  return `${path}/${query !== undefined && query !== '' ? `?${query}` : ''}`;
}

export function createStatusPage(options: Readonly<StatusPageOptions>): Router {
  const dir = options.publicDir ?? findPublicDir();
  const files = readdirSync(dir).filter((name) => name !== 'index.html' && !name.startsWith('.'));
  const indexHtml = readFileSync(`${dir}index.html`, 'utf8');
  const uiHtml = withBase(indexHtml, '../');
  const serveFiles = express.static(dir, { index: false, redirect: false, fallthrough: true, maxAge: 0 });
  const router = express.Router();

  const page = (html: string, needsSlash: boolean) =>
    function statusPageHandler(req: Request, res: Response): void {
      const redirect = needsSlash ? slashRedirect(req.originalUrl) : null;
      if (redirect) return res.redirect(301, redirect);
      res.type('html').set('Cache-Control', 'no-cache').send(html);
    };

  router.get('/', options.guard, page(indexHtml, true));
  router.get(['/ui', '/ui/'], options.guard, page(uiHtml, true));
  router.get('/ui/index.html', options.guard, page(uiHtml, false));
  router.get('/index.html', options.guard, page(indexHtml, false));
  router.get([...files.map((name) => `/${name}`), ...files.map((name) => `/ui/${name}`)], options.guard, function staticFileHandler(req, res, next) {
    req.url = req.url.replace(/^\/ui\//, '/');
    serveFiles(req, res, next);
  });
  return router;
}
