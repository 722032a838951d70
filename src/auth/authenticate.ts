/**
 * Who is calling: `authorization: Bearer <token>` → namespace. A missing,
 * malformed or unknown token is UNAUTHORIZED; a `micro-namespace` that is
 * not the token's namespace is FORBIDDEN. The same check serves gRPC metadata
 * and, through the gateway's forwarding, HTTP headers.
 */
import { AppError } from '../core/errors';
import type { KeyRing } from './api-keys';

const BEARER = /^Bearer ([^\s]+)$/i;

export function authenticate(keys: KeyRing, authorization: string | undefined, namespaceHeader: string | undefined): string {
  const m = authorization ? BEARER.exec(authorization.trim()) : null;
  if (!m) {
    throw new AppError('UNAUTHORIZED', authorization ? 'authorization must be "Bearer <token>"' : 'Missing authorization: send "authorization: Bearer <token>"');
  }
  const ns = keys.namespaceOf(m[1]);
  if (ns === undefined) throw new AppError('UNAUTHORIZED', 'Unknown token');
  if (namespaceHeader !== undefined && namespaceHeader !== '' && namespaceHeader !== ns) {
    throw new AppError('FORBIDDEN', 'micro-namespace does not match the token\'s namespace');
  }
  return ns;
}
