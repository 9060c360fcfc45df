import type { placementV1 } from '@switchyard/contracts';

/** One worker's open Attach stream, as the registry sees it. */
export interface WorkerSession {
  /** Sends a command; false when the stream is already closed. */
  send(command: placementV1.SchedulerCommand): boolean;
  /** Ends the stream from the scheduler's side. */
  close(reason: string): void;
  readonly peer: string;
}
