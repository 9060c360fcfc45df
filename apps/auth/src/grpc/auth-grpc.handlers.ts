import { Inject, Injectable } from '@nestjs/common';
import { status, type Metadata, type sendUnaryData, type ServerErrorResponse, type ServerUnaryCall } from '@grpc/grpc-js';
import { authV1 } from '@switchyard/contracts';
import { acceptOrCreateRequestId, ROOT_LOGGER, runWithRequestId, type Logger } from '@switchyard/observability';
import { AuthError } from '../common/errors';
import { AuthMetrics } from '../metrics/auth-metrics';
import { usageQuerySchema } from '../usage/usage.schema';
import { UsageService } from '../usage/usage.service';
import { KeyVerifierService } from '../verify/key-verifier.service';
import { toUsageRow, toVerifyKeyResponse } from './proto-mapping';

function grpcError(code: status, details: string): ServerErrorResponse {
  return Object.assign(new Error(details), { code, details });
}

const GRPC_CODE_BY_HTTP: Record<number, status> = {
  400: status.INVALID_ARGUMENT,
  401: status.UNAUTHENTICATED,
  403: status.PERMISSION_DENIED,
  404: status.NOT_FOUND,
  409: status.ALREADY_EXISTS,
};

/** The auth.v1 handlers, one per RPC of `AuthServiceService`. */
@Injectable()
export class AuthGrpcHandlers {
  private readonly logger: Logger;

  constructor(
    private readonly verifier: KeyVerifierService,
    private readonly usage: UsageService,
    private readonly metrics: AuthMetrics,
    @Inject(ROOT_LOGGER) rootLogger: Logger,
  ) {
    this.logger = rootLogger.child({ context: AuthGrpcHandlers.name });
  }

  /** The object given to `grpc.Server.addService(AuthServiceService, ...)`. */
  implementation(): authV1.AuthServiceServer {
    return {
      verifyKey: (call, callback) => this.unary(call, callback, 'VerifyKey', () => this.verifyKey(call.request)),
      recordUsage: (call, callback) => this.unary(call, callback, 'RecordUsage', () => this.recordUsage(call.request)),
      getUsage: (call, callback) => this.unary(call, callback, 'GetUsage', () => this.getUsage(call.request)),
    };
  }

  async verifyKey(req: authV1.VerifyKeyRequest): Promise<authV1.VerifyKeyResponse> {
    const stop = this.metrics.verifyDuration.startTimer();
    try {
      const verdict = await this.verifier.verify(req.apiKey);
      this.metrics.verifyTotal.inc({ outcome: verdict ? 'ok' : 'unauthenticated' });
      // One answer for unknown, revoked, expired and malformed keys, so keys cannot be probed.
      if (!verdict) throw grpcError(status.UNAUTHENTICATED, 'invalid API key');
      return toVerifyKeyResponse(verdict);
    } catch (err) {
      if (!isGrpcError(err)) this.metrics.verifyTotal.inc({ outcome: 'error' });
      throw err;
    } finally {
      stop();
    }
  }

  async recordUsage(req: authV1.RecordUsageRequest): Promise<authV1.RecordUsageResponse> {
    const { recorded, keyId, tokens } = await this.usage.record(req);
    this.verifier.noteUsage(keyId, tokens);
    return { recorded };
  }

  async getUsage(req: authV1.GetUsageRequest): Promise<authV1.GetUsageResponse> {
    const parsed = usageQuerySchema.safeParse({
      userId: req.userId || undefined,
      keyId: req.keyId || undefined,
      from: req.fromDay || undefined,
      to: req.toDay || undefined,
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw grpcError(status.INVALID_ARGUMENT, `${issue.path.join('.') || 'request'}: ${issue.message}`);
    }
    const report = await this.usage.report(parsed.data);
    return { rows: report.rows.map(toUsageRow) };
  }

  private unary<Req, Res>(call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>, method: string, fn: () => Promise<Res>): void {
    const requestId = acceptOrCreateRequestId(firstValue(call.metadata, 'x-request-id'));
    runWithRequestId(requestId, () => {
      fn().then(
        (res) => callback(null, res),
        (err: unknown) => callback(this.toGrpcError(err, method)),
      );
    });
  }

  private toGrpcError(err: unknown, method: string): ServerErrorResponse {
    if (isGrpcError(err)) return err;
    if (err instanceof AuthError) return grpcError(GRPC_CODE_BY_HTTP[err.status] ?? status.INVALID_ARGUMENT, err.message);
    // Log the failure, never the request: a VerifyKey request holds a key.
    this.logger.error({ method, err: { message: err instanceof Error ? err.message : String(err), name: err instanceof Error ? err.name : undefined } }, 'gRPC call failed');
    return grpcError(status.INTERNAL, 'internal error');
  }
}

function isGrpcError(err: unknown): err is ServerErrorResponse {
  return err instanceof Error && typeof (err as Partial<ServerErrorResponse>).code === 'number';
}

function firstValue(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : undefined;
}
