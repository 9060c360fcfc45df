import net from 'node:net';

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/**
 * The first of `count` consecutive ports free on `host`, below Linux's ephemeral range: the
 * simulator then listens on fixed ports, so a restart brings each GPU back at the same URL.
 */
export async function freeConsecutivePorts(count: number, host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 12000);
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = await canListen(base + i, host);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** `host:port` split at the last colon (`[::1]:50052` keeps its brackets); null when there is no numeric port. */
export function splitHostPort(address: string): { host: string; port: number } | null {
  const m = /^(.+):(\d{1,5})$/.exec(address.trim());
  return m ? { host: m[1], port: Number(m[2]) } : null;
}

/** The address `offset` ports after `address` (`127.0.0.1:50052`, 1 → `127.0.0.1:50053`). */
export function offsetAddress(address: string, offset: number): string {
  const hp = splitHostPort(address);
  if (!hp) throw new Error(`expected host:port, got ${address}`);
  return `${hp.host}:${hp.port + offset}`;
}
