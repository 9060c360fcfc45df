import { relayMessageSchema, type RelayMessage } from '@switchyard/contracts';

const FINISH_REASONS = new Set(['stop', 'length', 'tool_calls']);
const USAGE_FIELDS = ['queueMs', 'loadMs', 'promptEvalMs', 'evalMs', 'totalMs'] as const;

const isString = (v: unknown): v is string => typeof v === 'string';
const isInt = (v: unknown): v is number => Number.isInteger(v);
const isNonNegative = (v: unknown): v is number => typeof v === 'number' && v >= 0;
const isCount = (v: unknown): v is number => isInt(v) && v >= 0;

function isUsage(u: unknown): boolean {
  if (typeof u !== 'object' || u === null) return false;
  const r = u as Record<string, unknown>;
  return isCount(r.promptTokens) && isCount(r.completionTokens) && USAGE_FIELDS.every((f) => isNonNegative(r[f]));
}

/**
 * The common relay messages, checked field by field as `relayMessageSchema` would, without zod's
 * per-message cost; `undefined` for anything else (tool calls, embeddings, a bad message), which
 * `parseRelayMessage` then hands to the schema. Never accepts what the schema refuses.
 */
function fastPath(m: Record<string, unknown>): RelayMessage | undefined {
  if (!isString(m.requestId)) return undefined;
  if (m.type === 'lost') return isString(m.workerId) && typeof m.requeued === 'boolean' && isString(m.reason) ? (m as RelayMessage) : undefined;
  if (!isString(m.runId) || m.runId.length === 0 || !isInt(m.seq)) return undefined;
  switch (m.type) {
    case 'started':
      return isString(m.workerId) && isNonNegative(m.queueMs) ? (m as RelayMessage) : undefined;
    case 'chunk':
      return isString(m.content) && m.toolCalls === undefined ? (m as RelayMessage) : undefined;
    case 'final':
      return isString(m.workerId) && FINISH_REASONS.has(m.finishReason as string) && isUsage(m.usage) && m.embeddings === undefined ? (m as RelayMessage) : undefined;
    case 'error':
      return isInt(m.status) && isString(m.message) && (m.code === null || isString(m.code)) && typeof m.afterFirstToken === 'boolean' ? (m as RelayMessage) : undefined;
    default:
      return undefined;
  }
}

export type ParsedRelayMessage = { ok: true; message: RelayMessage } | { ok: false; issues: string[] };

/** A relay message from its JSON value: the fast field check for the common shapes, the contract's schema for the rest. */
export function parseRelayMessage(json: unknown): ParsedRelayMessage {
  if (typeof json === 'object' && json !== null) {
    const fast = fastPath(json as Record<string, unknown>);
    if (fast) return { ok: true, message: fast };
  }
  const parsed = relayMessageSchema.safeParse(json);
  if (parsed.success) return { ok: true, message: parsed.data };
  return { ok: false, issues: parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`) };
}
