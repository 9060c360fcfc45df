import { Job, type JobsOptions, type Queue, type RedisClient } from 'bullmq';
import type { Redis } from 'ioredis';
import { claimArgs, claimPlaceLua, type Place, type PlaceRequest, toPlace } from './fair-share';

/**
 * The one place Switchyard reaches into BullMQ's internals: a job's queue place is claimed (fair
 * share and bounds, fair-share.ts) and, when admitted, the job is added with BullMQ's own
 * `addPrioritizedJob` script, in one Lua script and so one round trip.
 *
 * Nothing of BullMQ's storage format is rewritten here. The script is BullMQ's own script source
 * (the same text BullMQ loads, includes expanded), run as a Lua function after the claim, with one
 * line added: the job's priority, which only the claim knows, is set in its options as they are
 * unpacked. Its arguments are the ones BullMQ's own `Job.addJob` builds (keys, msgpacked
 * arguments, job data, msgpacked options), captured from it instead of sent. So the job hash, the
 * prioritized score (priority × 2^32 + the `pc` counter), the marker and the events stream's
 * `added`/`waiting` entries are exactly what `Queue.add` would write.
 *
 * Tied to the pinned BullMQ version (package.json): `bullmq-add.int-spec.ts` fails if the script
 * or its arguments change shape.
 */
export const BULLMQ_VERSION = '5.81.5';

interface BullScript {
  name: string;
  content: string;
  keys: number;
}

// BullMQ publishes its scripts' expanded source only inside its package (no export map).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bullAdd = (require('bullmq/dist/cjs/scripts/addPrioritizedJob-9') as { addPrioritizedJob: BullScript }).addPrioritizedJob;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const bullVersion = (require('bullmq/dist/cjs/version') as { version: string }).version;

const OPTS_LINE = 'local opts = cmsgpack.unpack(ARGV[3])';
/** BullMQ's add script takes 9 keys and 3 arguments; the claim's own keys and arguments follow them. */
const BULL_KEYS = 9;
const BULL_ARGS = 3;

/** BullMQ's add script with the claim's priority set in the options it unpacks; throws if its shape changed. */
export function patchedAddScript(script: BullScript = bullAdd): string {
  if (script.keys !== BULL_KEYS) throw new Error(`BullMQ's addPrioritizedJob takes ${script.keys} keys, not ${BULL_KEYS}: bullmq-add.ts needs updating`);
  const parts = script.content.split(OPTS_LINE);
  if (parts.length !== 2) throw new Error(`BullMQ's addPrioritizedJob no longer has "${OPTS_LINE}" once: bullmq-add.ts needs updating`);
  return `${parts[0]}${OPTS_LINE}\nopts['priority'] = syPrio\n${parts[1]}`;
}

const CLAIM_AND_ADD_LUA = `${claimPlaceLua({
  prioritized: 'KEYS[4]',
  delayed: 'KEYS[5]',
  wait: `KEYS[${BULL_KEYS + 1}]`,
  paused: `KEYS[${BULL_KEYS + 2}]`,
  fair: `KEYS[${BULL_KEYS + 3}]`,
  argBase: BULL_ARGS,
})}
local syCode, syPrio, syAhead, syQueued = syClaim()
if syCode ~= 1 then return {syCode, syPrio, syAhead, syQueued} end
local function syBullAdd()
${patchedAddScript()}
end
local syJobId = syBullAdd()
return {syCode, syPrio, syAhead, syQueued, syJobId}
`;

type Reply = [number, number, number, number, string | number | undefined];

interface ClaimAndAddCommand {
  syClaimAndAdd(...args: (string | Buffer)[]): Promise<Reply>;
}

/** The keys the claim reads besides BullMQ's own (its wait list, paused list, and the fair-share hash). */
export interface ClaimExtraKeys {
  wait: string;
  paused: string;
  fair: string;
}

const defined = new WeakSet<Redis>();

/** What BullMQ's `Job.addJob` would send for this job: the add script's keys and arguments. */
async function bullArgs(queue: Queue, name: string, data: unknown, opts: JobsOptions): Promise<(string | Buffer)[]> {
  // A placeholder priority makes BullMQ choose its prioritized add; the script sets the real one.
  const job = new Job(queue, name, data, { ...queue.jobsOpts, ...opts, priority: 1 }, opts.jobId);
  let sent: { command: string; args: (string | Buffer)[] } | undefined;
  const capture = {
    runCommand: (command: string, args: (string | Buffer)[]) => {
      sent = { command, args };
      return Promise.resolve(opts.jobId ?? '');
    },
  };
  await job.addJob(capture as unknown as RedisClient);
  if (!sent || sent.command !== `addPrioritizedJob:${bullVersion}` || sent.args.length !== BULL_KEYS + BULL_ARGS) {
    throw new Error(`BullMQ ${bullVersion} did not add with addPrioritizedJob (${sent?.command}): bullmq-add.ts needs updating`);
  }
  return sent.args;
}

/**
 * Claims the job's place in `queue` and, when admitted, adds it there with the claimed priority,
 * in one script; a refused job is not added. `job` is what `queue.add(name, data, opts)` takes.
 */
export async function claimAndAdd(
  redis: Redis,
  queue: Queue,
  extra: ClaimExtraKeys,
  req: PlaceRequest,
  job: { name: string; data: unknown; opts: JobsOptions },
): Promise<Place> {
  const args = await bullArgs(queue, job.name, job.data, job.opts);
  if (!defined.has(redis)) {
    redis.defineCommand('syClaimAndAdd', { numberOfKeys: BULL_KEYS + 3, lua: CLAIM_AND_ADD_LUA });
    defined.add(redis);
  }
  const keys = args.slice(0, BULL_KEYS);
  const bull = args.slice(BULL_KEYS);
  const reply = await (redis as unknown as ClaimAndAddCommand).syClaimAndAdd(...keys, extra.wait, extra.paused, extra.fair, ...bull, ...claimArgs(req));
  const added = reply[4];
  if (reply[0] === 1 && (added === undefined || (typeof added === 'number' && added < 0))) {
    throw new Error(`BullMQ's add failed (${String(added)}) for job ${String(job.opts.jobId)}`);
  }
  return toPlace([reply[0], reply[1], reply[2], reply[3]]);
}

export { bullVersion as INSTALLED_BULLMQ_VERSION };
