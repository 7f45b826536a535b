/**
 * Who may talk to `nasflow serve`. Three browser-borne attacks and one
 * network one are closed, on whatever address the server listens:
 *
 * - DNS rebinding: a page of `evil.example` whose name is made to resolve to
 *   this server sends requests with `Host: evil.example`. Every request's
 *   `Host` must name an address the server actually serves: the bound
 *   address, the loopback names when bound to loopback, every interface's
 *   address when bound to a wildcard, and the names given with `--allow-host`.
 * - Cross-site writes: a write's `Origin`, when the browser sends one, must
 *   be an origin of this server: an allowed host at the port the request
 *   was sent to (so neither another site nor another local port).
 * - Other machines: with a token (`--token`, generated when the server
 *   listens beyond loopback) every write needs it, as `Authorization: Bearer
 *   <token>` or as the cookie the dashboard gets by opening the printed
 *   `/?token=<token>` address once (the way Jupyter hands its token over).
 *   Reads stay open.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { ApiResponse } from '../shared/api/index.js';
import { errorResponse } from '../shared/api/index.js';

/** True for an address or name that only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || /^::ffff:127\.\d+\.\d+\.\d+$/.test(h);
}

const WILDCARDS = new Set(['0.0.0.0', '::', '']);

/** An address as a Host header carries it: IPv6 in brackets, lower case. */
function hostForm(address: string): string {
  const a = address.toLowerCase();
  return a.includes(':') && !a.startsWith('[') ? `[${a}]` : a;
}

/** The name part of a Host header (`[::1]:8080` → `[::1]`, `Example:80` → `example`). */
function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  return h.replace(/:\d*$/, '');
}

export interface AccessOptions {
  /** The host the server was asked to listen on (`--host`), a name or an address. */
  readonly host: string;
  /** The address it listens on, as `server.address()` reports it. */
  readonly address: string;
  /** Further host names to serve (`--allow-host`): a reverse proxy's name, an /etc/hosts alias. */
  readonly allowHosts?: readonly string[];
  /** Required for writes when set. */
  readonly token?: string;
  /** The listening port: part of the token cookie's name, so two servers on one host keep their own. */
  readonly port: number;
}

/** A request refused: the response to send. */
export type Refusal = ApiResponse;

const json = { 'content-type': 'application/json; charset=utf-8' };

/** The Host, Origin and token rules of one server. */
export class Access {
  /** Host names (lower case, IPv6 bracketed) this server answers to. */
  private readonly hosts: ReadonlySet<string>;
  private readonly tokenDigest?: Buffer;
  /** Name of the cookie that carries the token. */
  private readonly cookieName: string;

  constructor(o: AccessOptions) {
    const hosts = new Set<string>([hostForm(o.address)]);
    if (!WILDCARDS.has(o.host)) hosts.add(hostForm(o.host));
    if (isLoopback(o.address)) for (const n of ['localhost', '127.0.0.1', '[::1]']) hosts.add(n);
    if (WILDCARDS.has(o.address) || WILDCARDS.has(o.host)) {
      hosts.add('localhost');
      for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (!a.scopeid) hosts.add(hostForm(a.address));
    }
    for (const h of o.allowHosts ?? []) hosts.add(hostForm(h));
    this.hosts = hosts;
    if (o.token !== undefined) this.tokenDigest = digest(o.token);
    this.cookieName = `nasflow-token-${o.port}`;
  }

  /** Why the request is refused (403 for Host/Origin, 401 for a missing token on a write), or undefined. */
  refuse(req: IncomingMessage): Refusal | undefined {
    const host = (req.headers.host ?? '').toLowerCase();
    const name = hostName(host);
    if (!this.hosts.has(name)) return errorResponse(403, 'Forbidden', `host ${JSON.stringify(host)} is not a name this server serves (nasflow serve --allow-host NAME adds one)`);
    const method = (req.method ?? 'GET').toUpperCase();
    if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return undefined;
    const origin = req.headers.origin;
    if (origin !== undefined) {
      let o: URL;
      try {
        o = new URL(origin);
      } catch {
        return errorResponse(403, 'Forbidden', `malformed Origin header ${JSON.stringify(origin)}`);
      }
      const allowed = (o.protocol === 'http:' || o.protocol === 'https:') && this.hosts.has(hostName(o.host)) && o.host === host;
      if (!allowed) return errorResponse(403, 'Forbidden', `cross-origin ${method} from ${origin} refused: only pages of this server (${host}) may write`);
    }
    if (this.tokenDigest && !this.tokenMatches(bearer(req) ?? cookie(req, this.cookieName))) {
      return { ...errorResponse(401, 'Unauthorized', 'this server needs a token for writes: open the address nasflow serve printed (…/?token=…) or send Authorization: Bearer <token>'), headers: { ...json, 'www-authenticate': 'Bearer' } };
    }
    return undefined;
  }

  /**
   * `GET /any/page?token=…`: the token handed to a browser. A right token
   * sets the cookie (HttpOnly, SameSite=Strict) and redirects to the same
   * page without it; a wrong one is a 401. Undefined when the URL has no token.
   */
  landing(url: URL): ApiResponse | undefined {
    const given = url.searchParams.get('token');
    if (given === null || !this.tokenDigest) return undefined;
    if (!this.tokenMatches(given)) return { status: 401, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'wrong token: open the address nasflow serve printed\n' };
    url.searchParams.delete('token');
    const location = url.pathname + (url.searchParams.size ? `?${url.searchParams.toString()}` : '');
    return {
      status: 302,
      headers: { location, 'set-cookie': `${this.cookieName}=${encodeURIComponent(given)}; Path=/; HttpOnly; SameSite=Strict`, 'cache-control': 'no-store', 'content-type': 'text/plain; charset=utf-8' },
      body: '',
    };
  }

  private tokenMatches(given: string | undefined): boolean {
    return given !== undefined && this.tokenDigest !== undefined && timingSafeEqual(digest(given), this.tokenDigest);
  }
}

/** Equal-length digests, so comparing them takes the same time whatever was sent. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function bearer(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
