import http from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * The baselines a user would put in front of the same Ollama servers instead of Switchyard: tiny
 * HTTP pass-through proxies that pick a backend per request and pipe the bytes both ways.
 * - round-robin: the next server in turn (nginx upstream, most Ollama proxies);
 * - least-busy: the server with the fewest requests in flight (LiteLLM's `least-busy` routing);
 * - affinity: a server whose `/api/ps` lists the model (fewest in flight among them), else least-busy;
 *   `/api/ps` is polled every `pollMs`.
 * Each Ollama then loads and evicts on its own, as it would behind such a proxy.
 */
export type BaselineKind = 'round-robin' | 'least-busy' | 'affinity';

export interface Proxy {
  url: string;
  close(): Promise<void>;
}

export interface ProxyOptions {
  /** The affinity proxy's `/api/ps` polling interval, real ms (the bench scales it to the simulated clock). */
  pollMs?: number;
}

export async function startProxy(kind: BaselineKind, backends: string[], opts: ProxyOptions = {}): Promise<Proxy> {
  const inflight = backends.map(() => 0);
  const resident: Array<Set<string>> = backends.map(() => new Set());
  let next = 0;
  let polling: NodeJS.Timeout | undefined;

  if (kind === 'affinity') {
    const poll = async () => {
      await Promise.all(
        backends.map(async (b, i) => {
          try {
            const res = await fetch(`${b}/api/ps`, { signal: AbortSignal.timeout(1000) });
            const body = (await res.json()) as { models: Array<{ name: string; model: string }> };
            resident[i] = new Set(body.models.flatMap((m) => [m.name, m.model]));
          } catch {
            // keep the last view
          }
        }),
      );
    };
    await poll();
    polling = setInterval(() => void poll(), opts.pollMs ?? 200);
  }

  const leastBusy = (candidates: number[]) => candidates.reduce((best, i) => (inflight[i] < inflight[best] ? i : best), candidates[0]);
  const all = backends.map((_, i) => i);

  const choose = (model: string | undefined): number => {
    switch (kind) {
      case 'round-robin':
        return next++ % backends.length;
      case 'least-busy':
        return leastBusy(all);
      case 'affinity': {
        const holders = model ? all.filter((i) => resident[i].has(model) || resident[i].has(`${model}:latest`)) : [];
        return leastBusy(holders.length ? holders : all);
      }
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let model: string | undefined;
      try {
        model = (JSON.parse(body.toString('utf8')) as { model?: string }).model;
      } catch {
        model = undefined;
      }
      const i = choose(model);
      inflight[i]++;
      let released = false;
      const release = () => {
        if (!released) {
          released = true;
          inflight[i]--;
        }
      };
      const target = new URL(req.url ?? '/', backends[i]);
      const upstream = http.request(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
        up.on('end', release);
        up.on('error', release);
      });
      upstream.on('error', (err) => {
        release();
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: err.message }));
      });
      res.on('close', () => {
        release();
        upstream.destroy();
      });
      upstream.end(body);
    });
  });
  server.keepAliveTimeout = 60000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      if (polling) clearInterval(polling);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
