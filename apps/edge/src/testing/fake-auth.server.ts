import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import { Redis } from 'ioredis';
import { authV1, RedisKeys, type AuthEvent } from '@switchyard/contracts';

/** A key the fake auth service knows, with its policy (defaults: every model, no limits). */
export interface TestKey {
  keyId: string;
  userId: string;
  policy?: Partial<authV1.Policy>;
  budgetUsed?: number;
  expiresAtMs?: number;
}

/**
 * A tiny in-test `auth.v1.AuthService` on grpc-js: VerifyKey answers a principal and policy for
 * known keys and UNAUTHENTICATED otherwise; `revoke` forgets a key and publishes the auth event
 * the real service would, on `RedisKeys.authEventsChannel(prefix)`.
 */
export class FakeAuthServer {
  private readonly server = new Server();
  private readonly keys = new Map<string, TestKey>();
  verifyCalls = 0;
  /** When set, VerifyKey fails with UNAVAILABLE (auth down). */
  unavailable = false;
  /** VerifyKey answers after this long (a slow auth service). */
  delayMs = 0;
  address = '';

  constructor(
    private readonly redisUrl: string,
    private readonly prefix: string,
  ) {
    const impl: authV1.AuthServiceServer = {
      verifyKey: (call: ServerUnaryCall<authV1.VerifyKeyRequest, authV1.VerifyKeyResponse>, cb: sendUnaryData<authV1.VerifyKeyResponse>) => {
        this.verifyCalls++;
        if (this.delayMs > 0) {
          const delay = this.delayMs;
          this.delayMs = 0;
          setTimeout(() => impl.verifyKey(call, cb), delay);
          return;
        }
        if (this.unavailable) return cb({ code: status.UNAVAILABLE, details: 'down' });
        const key = this.keys.get(call.request.apiKey);
        if (!key) return cb({ code: status.UNAUTHENTICATED, details: 'invalid API key' });
        cb(
          null,
          authV1.VerifyKeyResponse.fromPartial({
            principal: { keyId: key.keyId, userId: key.userId, userName: key.userId, keyDisplay: 'sk-…' },
            policy: {
              allModels: true,
              allowedModels: [],
              requestsPerMinute: 0,
              tokensPerMinute: 0,
              tokenBudget: 0,
              priority: authV1.PriorityClass.PRIORITY_CLASS_INTERACTIVE,
              pool: '',
              ...key.policy,
            },
            budgetUsed: key.budgetUsed ?? 0,
            expiresAtMs: key.expiresAtMs ?? 0,
          }),
        );
      },
      recordUsage: (_call, cb) => cb({ code: status.UNIMPLEMENTED, details: 'not in the fake' }),
      getUsage: (_call, cb) => cb({ code: status.UNIMPLEMENTED, details: 'not in the fake' }),
    };
    this.server.addService(authV1.AuthServiceService, impl);
  }

  async start(): Promise<string> {
    const port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.address = `127.0.0.1:${port}`;
    return this.address;
  }

  add(apiKey: string, key: TestKey): void {
    this.keys.set(apiKey, key);
  }

  /** Revokes a key as the auth service does: forget it, then publish `key.revoked`. */
  async revoke(apiKey: string): Promise<void> {
    const key = this.keys.get(apiKey);
    this.keys.delete(apiKey);
    await this.publish({ type: 'key.revoked', keyId: key?.keyId });
  }

  async publish(event: AuthEvent): Promise<void> {
    const redis = new Redis(this.redisUrl, { maxRetriesPerRequest: 1 });
    try {
      await redis.publish(RedisKeys.authEventsChannel(this.prefix), JSON.stringify(event));
    } finally {
      redis.disconnect();
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }
}
