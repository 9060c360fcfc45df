/** A thin client of the admin REST API (`/admin/v1`), used by the CLI. */

export interface ApiErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class AdminApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ApiErrorBody | undefined,
  ) {
    super(body?.error.message ?? `HTTP ${status}`);
    this.name = 'AdminApiError';
  }
}

export class AdminClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  get<T>(path: string, query: Record<string, string | undefined> = {}): Promise<T> {
    const qs = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) qs.set(k, v);
    const suffix = qs.size > 0 ? `?${qs.toString()}` : '';
    return this.request<T>('GET', `${path}${suffix}`);
  }

  post<T>(path: string, body: unknown = {}): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(`/admin/v1${path}`, this.baseUrl);
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await this.fetchFn(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw new AdminApiError(res.status, isErrorBody(parsed) ? parsed : undefined);
    return parsed as T;
  }
}

function isErrorBody(v: unknown): v is ApiErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as { error?: { message?: unknown } }).error?.message === 'string';
}
