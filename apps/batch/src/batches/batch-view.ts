import type { BatchRow, RequestCounts } from './batches.repository';

const TIMESTAMPS = ['in_progress_at', 'finalizing_at', 'completed_at', 'failed_at', 'expired_at', 'cancelling_at', 'cancelled_at'] as const;

const unix = (d: Date | string) => Math.floor(new Date(d).getTime() / 1000);

/** OpenAI's `Batch` object (absent values are left out rather than null). */
export function batchView(b: BatchRow, counts: RequestCounts): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: b.id,
    object: 'batch',
    endpoint: b.endpoint,
    input_file_id: b.input_file_id,
    completion_window: b.completion_window,
    status: b.status,
    created_at: unix(b.created_at),
    expires_at: unix(b.expires_at),
    request_counts: counts,
    metadata: b.metadata ?? null,
  };
  if (b.errors) out.errors = b.errors;
  if (b.output_file_id) out.output_file_id = b.output_file_id;
  if (b.error_file_id) out.error_file_id = b.error_file_id;
  for (const t of TIMESTAMPS) if (b[t]) out[t] = unix(b[t] as Date);
  return out;
}
