import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { authV1, DEFAULT_SHARE, type PriorityClass } from '@switchyard/contracts';
import { currentRequestId } from '@switchyard/observability';
import { EDGE_CONFIG, type EdgeConfig } from '../config/edge.config';

/** What the edge needs to know of a key's policy. */
export interface KeyPolicy {
  allowedModels: string[];
  allModels: boolean;
  /** 0 = unlimited. */
  requestsPerMinute: number;
  tokensPerMinute: number;
  tokenBudget: number;
  priority: PriorityClass;
  /** Undefined: the model's own pool from the catalogue. */
  pool: 'shared' | 'performance' | undefined;
  /** The key's weight in a model's queue against other keys of its priority (fair share); 1 = an equal share. */
  share: number;
}

/** A key's verdict from the auth service: who it is, what it may do, and what it has spent. */
export interface Verdict {
  keyId: string;
  userId: string;
  policy: KeyPolicy;
  budgetUsed: number;
  /** Unix ms; 0 = never. */
  expiresAtMs: number;
}

/** The auth service did not answer (unavailable, deadline): the edge answers 503, not 401. */
export class AuthUnavailableError extends Error {}

/** Port to `auth.v1.VerifyKey`; resolves `null` for an unknown, revoked or expired key. */
export abstract class AuthClient {
  abstract verifyKey(apiKey: string): Promise<Verdict | null>;
}

@Injectable()
export class GrpcAuthClient extends AuthClient implements OnApplicationShutdown {
  private readonly client: authV1.AuthServiceClient;
  private readonly timeoutMs: number;

  constructor(@Inject(EDGE_CONFIG) config: EdgeConfig) {
    super();
    this.client = new authV1.AuthServiceClient(config.AUTH_GRPC_URL, credentials.createInsecure());
    this.timeoutMs = config.AUTH_TIMEOUT_MS;
  }

  verifyKey(apiKey: string): Promise<Verdict | null> {
    const metadata = new Metadata();
    const requestId = currentRequestId();
    if (requestId) metadata.set('x-request-id', requestId);
    return new Promise((resolve, reject) => {
      this.client.verifyKey({ apiKey }, metadata, { deadline: Date.now() + this.timeoutMs }, (err: ServiceError | null, res) => {
        if (err) {
          if (err.code === GrpcStatus.UNAUTHENTICATED || err.code === GrpcStatus.NOT_FOUND || err.code === GrpcStatus.PERMISSION_DENIED) {
            resolve(null);
          } else reject(new AuthUnavailableError(`VerifyKey failed: ${GrpcStatus[err.code] ?? err.code}`));
          return;
        }
        resolve(toVerdict(res));
      });
    });
  }

  onApplicationShutdown(): void {
    this.client.close();
  }
}

export function toVerdict(res: authV1.VerifyKeyResponse): Verdict {
  const p = res.policy;
  const pool = p?.pool === 'shared' || p?.pool === 'performance' ? p.pool : undefined;
  return {
    keyId: res.principal?.keyId ?? '',
    userId: res.principal?.userId ?? '',
    policy: {
      allowedModels: p?.allowedModels ?? [],
      allModels: p?.allModels ?? false,
      requestsPerMinute: p?.requestsPerMinute ?? 0,
      tokensPerMinute: p?.tokensPerMinute ?? 0,
      tokenBudget: Number(p?.tokenBudget ?? 0),
      priority: p?.priority === authV1.PriorityClass.PRIORITY_CLASS_BULK ? 'bulk' : 'interactive',
      pool,
      share: p?.share || DEFAULT_SHARE, // 0: unset (an auth service from before shares)
    },
    budgetUsed: Number(res.budgetUsed ?? 0),
    expiresAtMs: Number(res.expiresAtMs ?? 0),
  };
}
