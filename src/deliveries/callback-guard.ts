/**
 * Where result callbacks may go. A callback URL is the agent's claim, so it must never become a way into the network
 * Countersign runs in: hosts must be allowed (CALLBACK_ALLOWED_HOSTS, or the submitting key's own list) when a list is
 * configured, and a host nobody listed may only resolve to a public unicast address — never loopback, private,
 * link-local (cloud metadata), unique-local, IPv4-mapped, carrier-grade NAT or reserved ranges. The address check runs
 * on the address the socket actually connects to (a `lookup` hook on the request), so a name that resolves to a public
 * address at intake and to 127.0.0.1 at delivery (DNS rebinding) is still refused.
 */
import dns from 'node:dns';
import type { LookupAddress } from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why an address is refused, or undefined for a public unicast address. */
export function forbiddenAddressReason(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const parsed = ipaddr.parse(address);
  const range = parsed.range();
  if (range === 'unicast') return undefined;
  return ({
    loopback: 'a loopback address',
    private: 'a private address',
    linkLocal: 'a link-local address (cloud metadata services live there)',
    uniqueLocal: 'a unique-local address',
    ipv4Mapped: 'an IPv4-mapped address',
    carrierGradeNat: 'a carrier-grade NAT address',
    unspecified: 'the unspecified address',
    multicast: 'a multicast address',
    broadcast: 'the broadcast address',
  } as Record<string, string>)[range] ?? `a reserved address (${range})`;
}

/** A host pattern: `host`, `*.domain` (any subdomain), either with an optional `:port`; `[v6]` for IPv6 literals. */
function matchesHost(pattern: string, host: string, port: string): boolean {
  const p = pattern.trim().toLowerCase();
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(p);
  if (!m) return false;
  const [, patternHost, patternPort] = m;
  if (patternPort && patternPort !== port) return false;
  if (patternHost.startsWith('*.')) return host.endsWith(patternHost.slice(1)) && host.length > patternHost.length - 1;
  return patternHost === host;
}

export interface CallbackTarget {
  url: URL;
  /** The host exactly as the URL names it (lower-case; IPv6 in brackets). */
  host: string;
  /** Listed explicitly (globally or for the key): such a host may resolve to any address the operator chose. */
  listed: boolean;
}

export interface CallbackHostPolicy {
  /**
   * Checks a callback URL before anything is stored: scheme, allowed host, and literal addresses.
   * @returns why it is refused, or the target.
   */
  check(url: string, keyHosts: readonly string[]): { target: CallbackTarget } | { problem: string };
  /** The `lookup` a request to `target` must use: it refuses forbidden addresses unless the host was listed. */
  lookupFor(target: CallbackTarget): net.LookupFunction;
}

export function createCallbackHostPolicy(opts: {
  allowedHosts: readonly string[];
  /** The resolver (node's `dns.lookup`); a test passes one that answers what an attacker's DNS would. */
  resolve?: typeof dns.lookup;
}): CallbackHostPolicy {
  const resolve = opts.resolve ?? dns.lookup;
  const global = opts.allowedHosts.map((h) => h.trim().toLowerCase()).filter(Boolean);
  return {
    check(text, keyHosts) {
      let url: URL;
      try {
        url = new URL(text);
      } catch {
        return { problem: 'not a URL' };
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') return { problem: 'must be an http(s) URL' };
      if (url.username || url.password) return { problem: 'must not carry credentials' };
      const host = url.hostname.toLowerCase();
      const port = url.port || (url.protocol === 'https:' ? '443' : '80');
      const allowList = [...global, ...keyHosts.map((h) => h.toLowerCase())];
      const listed = allowList.some((p) => matchesHost(p, host, port));
      if (allowList.length > 0 && !listed) return { problem: `host ${host} is not an allowed callback host (CALLBACK_ALLOWED_HOSTS or the key's callback hosts)` };
      const literal = host.startsWith('[') ? host.slice(1, -1) : host;
      if (!listed) {
        if (net.isIP(literal)) {
          const reason = forbiddenAddressReason(literal);
          if (reason) return { problem: `host ${host} is ${reason}` };
        } else if (literal === 'localhost' || literal.endsWith('.localhost') || !literal.includes('.')) {
          // Single-label names resolve through search domains to internal hosts; localhost is loopback by definition.
          return { problem: `host ${host} is not a public name` };
        }
      }
      return { target: { url, host, listed } };
    },

    lookupFor(target) {
      return (hostname, options, callback) => {
        resolve(hostname, { ...(options as dns.LookupOptions), all: true }, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
          if (err) return void callback(err, '', 4);
          if (!target.listed) {
            const bad = addresses.map((a) => ({ a, reason: forbiddenAddressReason(a.address) })).find((x) => x.reason);
            if (bad) {
              const refused = Object.assign(new Error(`callback host ${hostname} resolved to ${bad.a.address}, ${bad.reason}`), { code: 'ECALLBACKREFUSED' });
              return void callback(refused, '', 4);
            }
          }
          if ((options as dns.LookupOptions).all) return void (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
          const first = addresses[0];
          callback(null, first.address, first.family);
        });
      };
    },
  };
}
