/**
 * The proxies' names, apart from their TensorFlow.js code: the spec parser
 * validates `proxy.live` with them without loading tfjs.
 */

/** Every proxy, in the order they are reported. */
export const PROXY_NAMES = ['synflow', 'naswot', 'jacob_cov', 'snip', 'grad_norm', 'fisher', 'params', 'flops'] as const;
export type ProxyName = (typeof PROXY_NAMES)[number];

/** Proxies that run on a batch of data (the rest need none). */
export const DATA_PROXIES: ReadonlySet<ProxyName> = new Set(['naswot', 'jacob_cov', 'snip', 'grad_norm', 'fisher']);

/** Whether a string names a proxy. */
export function isProxyName(s: string): s is ProxyName {
  return (PROXY_NAMES as readonly string[]).includes(s);
}
