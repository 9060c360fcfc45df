import { Controller, Delete, Get, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthContext } from '../../../auth/auth.service';
import { ApiKeyGuard, Caller } from '../../../pipeline/api-key.guard';
import { BatchClient } from './batch.client';

const both = (path: string) => [`v1/${path}`, `api/${path}`];

/**
 * OpenAI's Files and Batch APIs, served by apps/batch: the edge authenticates the key and relays
 * the request and the answer as streams, both ways; status, content type and body are the batch service's.
 */
@Controller()
@UseGuards(ApiKeyGuard)
export class FilesBatchesController {
  constructor(private readonly batch: BatchClient) {}

  @Post(both('files'))
  upload(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Caller() caller: AuthContext): Promise<void> {
    return this.relay(req, reply, caller);
  }

  @Get([...both('files'), ...both('files/:id'), ...both('files/:id/content'), ...both('batches'), ...both('batches/:id')])
  read(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Caller() caller: AuthContext): Promise<void> {
    return this.relay(req, reply, caller);
  }

  @Delete(both('files/:id'))
  remove(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Caller() caller: AuthContext): Promise<void> {
    return this.relay(req, reply, caller);
  }

  @Post([...both('batches'), ...both('batches/:id/cancel')])
  write(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Caller() caller: AuthContext): Promise<void> {
    return this.relay(req, reply, caller);
  }

  private async relay(req: FastifyRequest, reply: FastifyReply, caller: AuthContext): Promise<void> {
    const abort = new AbortController();
    const onClose = () => {
      if (!reply.raw.writableFinished) abort.abort();
    };
    reply.raw.once('close', onClose);
    const answer = await this.batch.forward(req, caller, abort.signal);
    await reply.status(answer.status).headers(answer.headers).send(answer.body);
  }
}
