import os from 'node:os';
import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { RedisKeys, USAGE_CONSUMER_GROUP, USAGE_ENTRY_FIELD } from '@switchyard/contracts';
import { ROOT_LOGGER, type Logger } from '@switchyard/observability';
import { createRedisConnection } from '@switchyard/redis';
import { AuthError } from '../common/errors';
import { AUTH_CONFIG, type AuthConfig } from '../config/auth.config';
import { KeyVerifierService } from '../verify/key-verifier.service';
import { UsageService } from './usage.service';

/** A stream entry as XREADGROUP / XAUTOCLAIM return it: id, then field, value, field, value, … (null: deleted meanwhile). */
type StreamEntry = [id: string, fields: string[] | null];

/** After a failed read or write, wait this long before reading the entries still pending. */
const RETRY_MS = 1_000;
/** While no worker has made the stream yet, look again this often. */
const NO_STREAM_WAIT_MS = 1_000;
/** Entries another replica took but has not acknowledged for this long are taken over (that replica is gone). */
const CLAIM_IDLE_MS = 60_000;
/** How often entries left by a gone replica are looked for. */
const CLAIM_EVERY_MS = 30_000;

/**
 * Reads the usage stream (`RedisKeys.usageStream`) that workers append to, as a member of the
 * consumer group `USAGE_CONSUMER_GROUP`, and writes its entries to the ledger a batch at a time
 * (up to AUTH_USAGE_BATCH_MAX entries in one transaction, UsageRepository's group commit): no call
 * per request reaches auth. An entry is acknowledged and deleted only once written, so entries
 * appended while auth is down, or read by a replica that stopped before writing them, are written
 * later (this replica's own unacknowledged entries first after a restart; another replica's after
 * CLAIM_IDLE_MS). An entry is counted once per request id (`duplicate` otherwise); an entry that can
 * never be written (malformed, unknown key) is logged and dropped.
 */
@Injectable()
export class UsageStreamConsumer implements OnModuleInit, OnApplicationShutdown {
  private readonly log: Logger;
  private readonly redis: Redis;
  private readonly key: string;
  /** Stable across restarts of this replica, so it reads its own unacknowledged entries first. */
  private readonly consumer: string;
  private stopping = false;
  private loop: Promise<void> | undefined;
  private lastClaimAt = 0;
  private groupReady = false;

  constructor(
    @Inject(AUTH_CONFIG) private readonly config: Pick<AuthConfig, 'REDIS_URL' | 'SWITCHYARD_PREFIX' | 'PORT' | 'AUTH_USAGE_BATCH_MAX' | 'AUTH_USAGE_BATCH_WAIT_MS'>,
    private readonly usage: UsageService,
    private readonly verifier: KeyVerifierService,
    @Inject(ROOT_LOGGER) logger: Logger,
  ) {
    this.log = logger.child({ context: UsageStreamConsumer.name });
    this.key = RedisKeys.usageStream(config.SWITCHYARD_PREFIX);
    this.consumer = `${os.hostname()}:${config.PORT}`;
    this.redis = createRedisConnection(config.REDIS_URL, { name: 'switchyard-auth:usage', role: 'blocking', lazyConnect: true });
    let lastWarn = 0;
    this.redis.on('error', (err: Error) => {
      if (Date.now() - lastWarn < 5_000) return;
      lastWarn = Date.now();
      this.log.warn({ err: { message: err.message } }, 'redis usage connection error');
    });
  }

  onModuleInit(): void {
    // Boot does not wait for Redis: the loop reads once it is there.
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    // Ends a blocking read at once; a batch being written finishes first (its entries are acknowledged after).
    this.redis.disconnect();
    await this.loop;
  }

  private async run(): Promise<void> {
    await this.redis.connect().catch(() => undefined);
    let pending = true; // first this consumer's own unacknowledged entries, then new ones
    while (!this.stopping) {
      try {
        if (!(await this.ensureGroup())) {
          await sleep(NO_STREAM_WAIT_MS);
          continue;
        }
        if (Date.now() - this.lastClaimAt >= CLAIM_EVERY_MS) await this.claimAbandoned();
        const entries = await this.read(pending ? '0' : '>');
        if (pending && entries.length === 0) {
          pending = false;
          continue;
        }
        if (entries.length > 0) await this.write(entries);
        // A small batch: let entries gather for a moment, so the ledger is written in fewer, larger transactions.
        if (!pending && entries.length < this.config.AUTH_USAGE_BATCH_MAX && this.config.AUTH_USAGE_BATCH_WAIT_MS > 0) await sleep(this.config.AUTH_USAGE_BATCH_WAIT_MS);
      } catch (err) {
        if (this.stopping) break;
        if (isNoGroup(err)) this.groupReady = false;
        else this.log.warn({ err: errMessage(err) }, 'usage stream: read or write failed; retrying');
        pending = true;
        await sleep(RETRY_MS);
      }
    }
  }

  /**
   * Creates the group once the stream exists (a worker made it with its first entry; its entries from
   * the first on are read); again after Redis came back empty. Resolves false while there is no stream.
   */
  private async ensureGroup(): Promise<boolean> {
    if (this.groupReady) return true;
    try {
      await this.redis.xgroup('CREATE', this.key, USAGE_CONSUMER_GROUP, '0');
    } catch (err) {
      const message = errMessage(err);
      if (message.includes('requires the key to exist')) return false;
      if (!message.includes('BUSYGROUP')) throw err;
    }
    this.groupReady = true;
    return true;
  }

  private async read(from: '0' | '>'): Promise<StreamEntry[]> {
    const count = String(this.config.AUTH_USAGE_BATCH_MAX);
    const reply =
      from === '>'
        ? await this.redis.xreadgroup('GROUP', USAGE_CONSUMER_GROUP, this.consumer, 'COUNT', count, 'BLOCK', '1000', 'STREAMS', this.key, from)
        : await this.redis.xreadgroup('GROUP', USAGE_CONSUMER_GROUP, this.consumer, 'COUNT', count, 'STREAMS', this.key, from);
    const streams = reply as Array<[string, StreamEntry[]]> | null;
    return streams?.[0]?.[1] ?? [];
  }

  /** Takes over, and writes, the entries a replica that went away read but never acknowledged. */
  private async claimAbandoned(): Promise<void> {
    this.lastClaimAt = Date.now();
    let cursor = '0-0';
    do {
      const reply = (await this.redis.xautoclaim(this.key, USAGE_CONSUMER_GROUP, this.consumer, CLAIM_IDLE_MS, cursor, 'COUNT', this.config.AUTH_USAGE_BATCH_MAX)) as [string, StreamEntry[]];
      cursor = reply[0];
      const entries = reply[1];
      if (entries.length > 0) {
        this.log.info({ entries: entries.length }, 'usage stream: took over entries another replica left unacknowledged');
        await this.write(entries);
      }
    } while (cursor !== '0-0' && !this.stopping);
  }

  /** Writes entries to the ledger, then acknowledges and deletes them; throws (acknowledging none) when the database fails. */
  private async write(entries: StreamEntry[]): Promise<void> {
    const outcomes = await Promise.all(entries.map(([id, fields]) => this.record(id, fields)));
    const failed = outcomes.find((o) => o !== undefined);
    // Written or never writable: acknowledged. A database failure: nothing is, the batch is read again.
    const done = entries.filter((_, i) => outcomes[i] === undefined).map(([id]) => id);
    if (done.length > 0) await this.redis.multi().xack(this.key, USAGE_CONSUMER_GROUP, ...done).xdel(this.key, ...done).exec();
    if (failed) throw failed;
  }

  /** Records one entry; resolves with the error to retry on, or undefined when done with it. */
  private async record(id: string, fields: string[] | null): Promise<Error | undefined> {
    if (fields === null) return undefined; // deleted after it was read: written already
    const raw = field(fields, USAGE_ENTRY_FIELD);
    let entry: unknown;
    try {
      entry = raw === undefined ? undefined : JSON.parse(raw);
    } catch {
      entry = undefined;
    }
    if (entry === undefined) {
      this.log.error({ entryId: id }, 'usage stream: malformed entry dropped');
      return undefined;
    }
    try {
      const { keyId, tokens } = await this.usage.record(entry);
      this.verifier.noteUsage(keyId, tokens);
      return undefined;
    } catch (err) {
      if (err instanceof AuthError) {
        // Invalid or for an unknown key: writing it again cannot succeed.
        this.log.error({ entryId: id, err: err.message }, 'usage stream: entry refused, dropped');
        return undefined;
      }
      return err instanceof Error ? err : new Error(String(err));
    }
  }
}

function field(fields: string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

function isNoGroup(err: unknown): boolean {
  return errMessage(err).includes('NOGROUP');
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
