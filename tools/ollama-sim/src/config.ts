/**
 * The simulator's settings: one zod schema, fed by `startSimulator(options)`, command-line flags
 * or SIM_* environment variables (flags win). Parsed once, failing with every bad setting listed.
 */
import { z } from 'zod';
import { parseKeepAliveSetting } from './duration';
import { COMPUTE_SHARING, type ComputeSharing, DEFAULT_COMPUTE_SHARING } from './gpu';

/** Options of `startSimulator`, matching the flags. */
export interface SimulatorOptions {
  /** First port; 0 = every GPU on its own free ephemeral port. Default 11434. */
  port?: number;
  host?: string;
  /** Independent simulated Ollama servers, one GPU each, on consecutive ports. Default 1. */
  gpus?: number;
  /** GPU memory, GB (1e9 bytes). Default 80. */
  vramGb?: number;
  /** OLLAMA_NUM_PARALLEL: slots per loaded model. Default 4. */
  numParallel?: number;
  /** OLLAMA_MAX_QUEUE. Default 512. */
  maxQueue?: number;
  /** OLLAMA_MAX_LOADED_MODELS per GPU; 0 = no limit. Default 3. */
  maxLoaded?: number;
  /** OLLAMA_KEEP_ALIVE: Go duration or seconds; negative = forever. Default "5m". */
  keepAlive?: string | number;
  /** Every simulated duration is divided by this in real time. Default 1. */
  timeScale?: number;
  /** Model catalogue file (YAML or JSON). Default tools/ollama-sim/models.default.yaml. */
  models?: string;
  /** Seed of the deterministic text. Default 0. */
  seed?: number;
  /** OLLAMA_CONTEXT_LENGTH: default num_ctx; 0 = by VRAM as Ollama. Default 0. */
  contextLength?: number;
  /** Load bandwidth, GB/s. Default 10. */
  loadBandwidthGBps?: number;
  /** Fixed runner start-up per load, simulated seconds. Default 1.5. */
  loadStartupS?: number;
  /** Aggregate throughput = one stream × busy^exponent. Default 0.6. */
  parallelExponent?: number;
  /**
   * `per-gpu` (default): models busy at once on one GPU take turns on it. `per-model`: every loaded
   * model runs on compute of its own. See GpuConfig.computeSharing.
   */
  computeSharing?: ComputeSharing;
  /** A model fits beside loaded ones when its prediction ≤ this × free memory. Default 0.8. */
  fitFraction?: number;
  /** CPU offload: generation on the CPU is this many times slower than on the GPU. Default 15. */
  cpuGenSlowdown?: number;
  /** CPU offload: prompt evaluation on the CPU is this many times slower. Default 30. */
  cpuPromptSlowdown?: number;
  /** pino level for stderr logs. Default info. */
  logLevel?: string;
}

const positiveNumber = z.coerce.number().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();

export const simulatorConfigSchema = z.object({
  port: nonNegativeInt.max(65535).default(11434),
  host: z.string().min(1).default('127.0.0.1'),
  gpus: z.coerce.number().int().min(1).max(64).default(1),
  vramGb: positiveNumber.default(80),
  numParallel: z.coerce.number().int().min(1).default(4),
  maxQueue: z.coerce.number().int().min(1).default(512),
  maxLoaded: nonNegativeInt.default(3),
  keepAlive: z
    .union([z.string(), z.number()])
    .default('5m')
    .transform((v, ctx) => {
      try {
        return typeof v === 'number' ? (v < 0 ? Infinity : v) : parseKeepAliveSetting(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
  timeScale: positiveNumber.default(1),
  models: z.string().min(1).optional(),
  seed: z.coerce.number().int().default(0),
  contextLength: nonNegativeInt.default(0),
  loadBandwidthGBps: positiveNumber.default(10),
  loadStartupS: z.coerce.number().nonnegative().default(1.5),
  parallelExponent: z.coerce.number().min(0).max(1).default(0.6),
  computeSharing: z.enum(COMPUTE_SHARING).default(DEFAULT_COMPUTE_SHARING),
  fitFraction: z.coerce.number().positive().max(1).default(0.8),
  cpuGenSlowdown: z.coerce.number().min(1).default(15),
  cpuPromptSlowdown: z.coerce.number().min(1).default(30),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Resolved settings; keepAlive in simulated seconds (Infinity = forever). */
export type SimulatorConfig = z.infer<typeof simulatorConfigSchema>;

/** Applies defaults and validates; throws listing every bad setting. */
export function resolveConfig(options: SimulatorOptions | Record<string, unknown>): SimulatorConfig {
  const r = simulatorConfigSchema.safeParse(options);
  if (!r.success) {
    throw new Error(`invalid simulator settings: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return r.data;
}

/** Flag name, environment variable and option key of every setting. */
export const SETTINGS: ReadonlyArray<{ flag: string; env: string; key: keyof SimulatorOptions }> = [
  { flag: 'port', env: 'SIM_PORT', key: 'port' },
  { flag: 'host', env: 'SIM_HOST', key: 'host' },
  { flag: 'gpus', env: 'SIM_GPUS', key: 'gpus' },
  { flag: 'vram-gb', env: 'SIM_VRAM_GB', key: 'vramGb' },
  { flag: 'num-parallel', env: 'SIM_NUM_PARALLEL', key: 'numParallel' },
  { flag: 'max-queue', env: 'SIM_MAX_QUEUE', key: 'maxQueue' },
  { flag: 'max-loaded', env: 'SIM_MAX_LOADED', key: 'maxLoaded' },
  { flag: 'keep-alive', env: 'SIM_KEEP_ALIVE', key: 'keepAlive' },
  { flag: 'time-scale', env: 'SIM_TIME_SCALE', key: 'timeScale' },
  { flag: 'models', env: 'SIM_MODELS', key: 'models' },
  { flag: 'seed', env: 'SIM_SEED', key: 'seed' },
  { flag: 'context-length', env: 'SIM_CONTEXT_LENGTH', key: 'contextLength' },
  { flag: 'load-bandwidth-gbps', env: 'SIM_LOAD_BANDWIDTH_GBPS', key: 'loadBandwidthGBps' },
  { flag: 'load-startup-s', env: 'SIM_LOAD_STARTUP_S', key: 'loadStartupS' },
  { flag: 'parallel-exponent', env: 'SIM_PARALLEL_EXPONENT', key: 'parallelExponent' },
  { flag: 'compute-sharing', env: 'SIM_COMPUTE_SHARING', key: 'computeSharing' },
  { flag: 'fit-fraction', env: 'SIM_FIT_FRACTION', key: 'fitFraction' },
  { flag: 'cpu-gen-slowdown', env: 'SIM_CPU_GEN_SLOWDOWN', key: 'cpuGenSlowdown' },
  { flag: 'cpu-prompt-slowdown', env: 'SIM_CPU_PROMPT_SLOWDOWN', key: 'cpuPromptSlowdown' },
  { flag: 'log-level', env: 'SIM_LOG_LEVEL', key: 'logLevel' },
];

/**
 * Reads flags (`--time-scale 100`, `--time-scale=100`, `--keep-alive -1`) over SIM_* variables into
 * options. The word after a flag is always its value, so negative numbers need no `=`.
 */
export function optionsFromCli(argv: string[], env: NodeJS.ProcessEnv): SimulatorOptions & { help?: boolean } {
  const byFlag = new Map(SETTINGS.map((s) => [s.flag, s]));
  const values = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/s.exec(arg);
    const setting = m ? byFlag.get(m[1]) : undefined;
    if (!m || !setting) throw new Error(`unknown argument: ${arg}`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) throw new Error(`missing value for --${setting.flag}`);
    values.set(setting.flag, value);
  }
  const out: Record<string, unknown> = {};
  for (const s of SETTINGS) {
    const v = values.get(s.flag) ?? env[s.env];
    if (v !== undefined && v !== '') out[s.key] = v;
  }
  if (help) out.help = true;
  return out as SimulatorOptions & { help?: boolean };
}

export const USAGE = `Usage: npm run sim -- [flags]   (every flag also reads its SIM_* variable; flags win)
  --port N               SIM_PORT             first port, GPUs on consecutive ports; 0 = ephemeral (11434)
  --host H               SIM_HOST             listen address (127.0.0.1)
  --gpus N               SIM_GPUS             simulated Ollama servers, one GPU each (1)
  --vram-gb N            SIM_VRAM_GB          GPU memory, GB (80)
  --num-parallel N       SIM_NUM_PARALLEL     OLLAMA_NUM_PARALLEL, slots per loaded model (4)
  --max-queue N          SIM_MAX_QUEUE        OLLAMA_MAX_QUEUE, pending queue bound (512)
  --max-loaded N         SIM_MAX_LOADED       OLLAMA_MAX_LOADED_MODELS per GPU, 0 = no limit (3)
  --keep-alive D         SIM_KEEP_ALIVE       OLLAMA_KEEP_ALIVE, Go duration or seconds, <0 forever (5m)
  --time-scale N         SIM_TIME_SCALE       every simulated duration runs N times faster (1)
  --models FILE          SIM_MODELS           model catalogue, YAML or JSON (models.default.yaml)
  --seed N               SIM_SEED             seed of the deterministic text (0)
  --context-length N     SIM_CONTEXT_LENGTH   OLLAMA_CONTEXT_LENGTH, default num_ctx; 0 = by VRAM (0)
  --load-bandwidth-gbps  SIM_LOAD_BANDWIDTH_GBPS  model load bandwidth, GB/s (10)
  --load-startup-s N     SIM_LOAD_STARTUP_S   fixed runner start-up per load, s (1.5)
  --parallel-exponent N  SIM_PARALLEL_EXPONENT aggregate = one stream x busy^N (0.6)
  --compute-sharing M    SIM_COMPUTE_SHARING  per-gpu (busy models take turns on their GPU) or
                                              per-model (each loaded model has its own compute) (per-gpu)
  --fit-fraction N       SIM_FIT_FRACTION     fits when prediction <= N x free memory (0.8)
  --cpu-gen-slowdown N   SIM_CPU_GEN_SLOWDOWN  CPU offload: generation N x slower on the CPU (15)
  --cpu-prompt-slowdown N SIM_CPU_PROMPT_SLOWDOWN CPU offload: prompt N x slower on the CPU (30)
  --log-level L          SIM_LOG_LEVEL        stderr log level (info)
`;
