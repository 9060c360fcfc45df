import { describeExit, Service } from './process-group';

/** True when GET `url` answers 2xx within 2 s. */
export async function httpReady(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false; // not listening yet
  }
}

/**
 * Waits until the service's readiness probe passes; throws if its process exits first or time runs
 * out. `at` names what is probed, for the message.
 */
export async function waitReady(service: Service, at: string, timeoutMs = 90000): Promise<void> {
  const ready = service.spec.ready;
  if (!ready) return;
  const deadline = Date.now() + timeoutMs;
  const proc = service.current;
  let status: string | undefined;
  void proc.exited.then((s) => (status = describeExit(s)));
  while (Date.now() < deadline) {
    if (status !== undefined) throw new Error(`${service.name} exited (${status})`);
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${service.name} was not ready at ${at} after ${timeoutMs / 1000}s`);
}
