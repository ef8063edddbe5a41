// The HTTP allow-list, the same rules as every host: `*` allows everything, `host` that
// host on any port, `host:port` that host and port; case-insensitive; http(s) only.

export class HttpPolicy {
  constructor({ allow = [], timeoutMs = 10000 } = {}) {
    if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs: must be positive, got ${timeoutMs}`);
    this.allow = allow.map((a) => a.trim().toLowerCase());
    this.timeoutMs = timeoutMs;
  }

  permits(url) {
    let u;
    try {
      u = new URL(url);
    } catch {
      return false;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    const host = u.hostname.toLowerCase();
    if (!host) return false;
    const port = u.port || (u.protocol === 'https:' ? '443' : '80');
    return this.allow.some((a) => a === '*' || a === host || a === `${host}:${port}`);
  }

  timeoutFor(requestedMs) {
    return requestedMs === undefined ? this.timeoutMs : Math.min(this.timeoutMs, requestedMs);
  }
}
