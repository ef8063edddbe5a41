// wasi:config (0.2.0-rc.1) for the edge build under `jco serve`: key `api-keys` is the
// environment variable AGENTCELL_API_KEYS, `http-allow` AGENTCELL_HTTP_ALLOW, and so on
// (upper case, `-` as `_`), the variables `agentcell serve` reads too.
const envName = (key) => `AGENTCELL_${key.toUpperCase().replace(/-/g, '_')}`;

export const store = {
  get(key) {
    return process.env[envName(key)];
  },
  getAll() {
    return Object.entries(process.env)
      .filter(([k]) => k.startsWith('AGENTCELL_'))
      .map(([k, v]) => [k.slice('AGENTCELL_'.length).toLowerCase().replace(/_/g, '-'), v]);
  },
};
