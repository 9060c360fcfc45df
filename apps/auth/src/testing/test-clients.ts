import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { authV1 } from '@switchyard/contracts';

export type GrpcResult<T> = { ok: true; value: T } | { ok: false; code: number; details: string };

/** A promise-returning wrapper of the generated grpc-js client, for tests and the benchmark. */
export class AuthGrpcTestClient {
  readonly raw: authV1.AuthServiceClient;

  constructor(address: string) {
    this.raw = new authV1.AuthServiceClient(address, credentials.createInsecure());
  }

  verifyKey(apiKey: string): Promise<GrpcResult<authV1.VerifyKeyResponse>> {
    return this.call((md, cb) => this.raw.verifyKey({ apiKey }, md, cb));
  }

  recordUsage(req: Partial<authV1.RecordUsageRequest> & { requestId: string; keyId: string }): Promise<GrpcResult<authV1.RecordUsageResponse>> {
    const full: authV1.RecordUsageRequest = {
      userId: '',
      model: 'llama3.1:8b',
      promptTokens: 0,
      completionTokens: 0,
      queueMs: 0,
      generationMs: 0,
      workerId: 'worker-1',
      outcome: 'ok',
      pool: 'shared',
      createdAtMs: Date.now(),
      ...req,
    };
    return this.call((md, cb) => this.raw.recordUsage(full, md, cb));
  }

  getUsage(req: Partial<authV1.GetUsageRequest>): Promise<GrpcResult<authV1.GetUsageResponse>> {
    return this.call((md, cb) => this.raw.getUsage({ userId: '', keyId: '', fromDay: '', toDay: '', ...req }, md, cb));
  }

  close(): void {
    this.raw.close();
  }

  private call<T>(fn: (md: Metadata, cb: (err: ServiceError | null, res: T) => void) => void): Promise<GrpcResult<T>> {
    return new Promise((resolve) => {
      fn(new Metadata(), (err, res) => {
        if (err) resolve({ ok: false, code: err.code, details: err.details });
        else resolve({ ok: true, value: res });
      });
    });
  }
}

export interface HttpResult<T = unknown> {
  status: number;
  body: T;
}

/** JSON over HTTP to the admin API, with or without a token. */
export function adminHttp(baseUrl: string, token: string | undefined) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<HttpResult<T>> => {
    const h: Record<string, string> = { ...headers };
    if (token !== undefined) h.authorization = `Bearer ${token}`;
    if (body !== undefined) h['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl}${path}`, { method, headers: h, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, body: parsed as T };
  };
}
