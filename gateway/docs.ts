/**
 * The API reference over HTTP, open without a token like /healthz:
 * `GET /openapi.json` (gateway/openapi.ts, built once from the descriptors)
 * and `GET /docs`, Swagger UI rendering that document. Swagger UI's files
 * come from the swagger-ui-dist package in node_modules, never a CDN, and the
 * page's Content-Security-Policy allows nothing but this origin, so it works
 * offline and asks no other host for anything (its validator badge is off).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Router, type Request, type Response } from 'express';
import type { DescService, FileRegistry } from '@bufbuild/protobuf';
import { httpError, writeError } from './errors';
import { openApiDocument } from './openapi';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PATH = '/docs';

/** The only files of swagger-ui-dist the page loads. */
const ASSETS: Readonly<Record<string, string>> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
};

const CSP = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

// Relative URLs: the page works under any prefix a proxy puts in front of the gateway.
const PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>parley API reference</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

const INIT = `window.ui = SwaggerUIBundle({
  url: new URL('openapi.json', document.baseURI).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  validatorUrl: null,
  layout: 'BaseLayout',
});
`;

/** The services of a registry, in its order (the three APIs). */
export function servicesOf(registry: FileRegistry): DescService[] {
  return [...registry].filter((d): d is DescService => d.kind === 'service');
}

/** Express router for /openapi.json and /docs (GET and HEAD; another method is 405). */
export function apiReference(registry: FileRegistry, version = packageVersion()): Router {
  const document = JSON.stringify(openApiDocument(servicesOf(registry), { version }));
  const uiDir = dirname(require.resolve('swagger-ui-dist/package.json'));
  const router = Router({ caseSensitive: true, strict: true });

  const getOnly = (path: string) =>
    router.all(path, (req: Request, res: Response, next) => {
      if (req.method === 'GET' || req.method === 'HEAD') return next();
      writeError(res, httpError('METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed on ${path}; use GET`, { allow: 'GET, HEAD' }));
    });

  getOnly(OPENAPI_PATH);
  router.get(OPENAPI_PATH, (_req, res) => {
    res.type('application/json').setHeader('cache-control', 'no-cache');
    res.send(document);
  });

  getOnly(DOCS_PATH);
  router.get(DOCS_PATH, (_req, res) => {
    res.setHeader('content-security-policy', CSP);
    res.type('text/html; charset=utf-8').send(PAGE);
  });
  // Relative asset URLs need the page at /docs exactly.
  router.get(`${DOCS_PATH}/`, (_req, res) => res.redirect(301, '../docs'));
  router.get(`${DOCS_PATH}/init.js`, (_req, res) => {
    res.type('text/javascript; charset=utf-8').send(INIT);
  });
  router.get(`${DOCS_PATH}/:file`, (req, res, next) => {
    const file = String(req.params.file);
    const type = Object.hasOwn(ASSETS, file) ? ASSETS[file] : undefined;
    if (!type) return next();
    res.sendFile(join(uiDir, file), { headers: { 'content-type': type }, maxAge: '1h' }, (err) => {
      if (err && !res.headersSent) writeError(res, httpError('NOT_FOUND', `Unknown path ${DOCS_PATH}/${file}`));
    });
  });
  return router;
}

/** The repository's package.json version (two folders up from dist/gateway, one from gateway/). */
function packageVersion(): string {
  for (const up of [join(__dirname, '..'), join(__dirname, '..', '..')]) {
    const file = join(up, 'package.json');
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? '0.0.0';
  }
  return '0.0.0';
}
