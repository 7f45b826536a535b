import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Access, isLoopback } from '../../../cli/serve-access.js';

const req = (headers: Record<string, string>, method = 'GET') => ({ method, headers }) as unknown as IncomingMessage;
const status = (a: Access, headers: Record<string, string>, method = 'GET') => a.refuse(req(headers, method))?.status ?? 200;

describe('serve access rules', () => {
  it('knows loopback names and addresses', () => {
    for (const h of ['localhost', '127.0.0.1', '127.0.0.2', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '192.0.2.2', 'example.com', 'localhost.example']) expect(isLoopback(h), h).toBe(false);
  });

  it('bound to IPv6 loopback: [::1] and the loopback names are served; no Host, another name, a trailing-dot name are not', () => {
    const a = new Access({ host: '::1', address: '::1', port: 8080 });
    expect(status(a, { host: '[::1]:8080' })).toBe(200);
    expect(status(a, { host: 'localhost:8080' })).toBe(200);
    expect(status(a, {})).toBe(403);
    expect(status(a, { host: 'evil.example:8080' })).toBe(403);
    expect(status(a, { host: 'localhost.:8080' })).toBe(403);
  });

  it('bound to a LAN address: that address only, not the loopback names', () => {
    const a = new Access({ host: '192.0.2.2', address: '192.0.2.2', port: 80 });
    expect(status(a, { host: '192.0.2.2' })).toBe(200);
    expect(status(a, { host: 'localhost' })).toBe(403);
  });

  it('a write with Origin "null", another scheme or a malformed Origin is refused; a write with none (curl) is not', () => {
    const a = new Access({ host: '127.0.0.1', address: '127.0.0.1', port: 8080 });
    const host = { host: '127.0.0.1:8080' };
    expect(status(a, { ...host, origin: 'null' }, 'POST')).toBe(403);
    expect(status(a, { ...host, origin: 'file://127.0.0.1:8080' }, 'POST')).toBe(403);
    expect(status(a, { ...host, origin: 'http://127.0.0.1:8080' }, 'POST')).toBe(200);
    expect(status(a, host, 'POST')).toBe(200);
    // A read from anywhere is no write: CORS keeps its answer from the other page.
    expect(status(a, { ...host, origin: 'http://evil.example' }, 'GET')).toBe(200);
  });

  it('the token: bearer or cookie on writes; the landing address sets the cookie and keeps the rest of the query', () => {
    const a = new Access({ host: '127.0.0.1', address: '127.0.0.1', port: 8080, token: 's3cret-token' });
    const host = { host: '127.0.0.1:8080' };
    expect(status(a, host, 'POST')).toBe(401);
    expect(status(a, { ...host, authorization: 'Bearer s3cret-token' }, 'POST')).toBe(200);
    expect(status(a, { ...host, authorization: 'Bearer s3cret-tokeN' }, 'POST')).toBe(401);
    expect(status(a, { ...host, cookie: 'other=1; nasflow-token-8080=s3cret-token' }, 'POST')).toBe(200);
    expect(status(a, { ...host, cookie: 'nasflow-token-9090=s3cret-token' }, 'POST')).toBe(401);
    const landing = a.landing(new URL('http://127.0.0.1:8080/?view=list&token=s3cret-token'));
    expect(landing?.status).toBe(302);
    expect(landing?.headers.location).toBe('/?view=list');
    expect(landing?.headers['set-cookie']).toBe('nasflow-token-8080=s3cret-token; Path=/; HttpOnly; SameSite=Strict');
    expect(a.landing(new URL('http://127.0.0.1:8080/'))).toBeUndefined();
    expect(a.landing(new URL('http://127.0.0.1:8080/?token=nope'))?.status).toBe(401);
  });
});
