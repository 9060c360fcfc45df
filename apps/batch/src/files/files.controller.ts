import { Readable } from 'node:stream';
import { Controller, Delete, Get, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MultipartFile, MultipartValue } from '@fastify/multipart';
import { z } from 'zod';
import type { BatchCaller } from '@switchyard/contracts';
import { Errors, parseRequest } from '@switchyard/openai';
import { Caller, InternalCallerGuard } from '../http/internal-caller.guard';
import type { FileWriter } from './file-writer';
import { fileView } from './file-view';
import { FilesService } from './files.service';

const listQuerySchema = z.object({
  purpose: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(10_000),
  after: z.string().optional(),
  order: z.enum(['asc', 'desc']).default('desc'),
});

type MultipartRequest = { isMultipart(): boolean; parts(): AsyncIterableIterator<MultipartFile | MultipartValue> };

/** OpenAI's Files API (the subset batches need), also under `/api/`. */
@Controller()
@UseGuards(InternalCallerGuard)
export class FilesController {
  constructor(private readonly files: FilesService) {}

  @Post(['v1/files', 'api/files'])
  async upload(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() caller: BatchCaller): Promise<void> {
    const mp = request as unknown as MultipartRequest;
    if (!mp.isMultipart()) throw Errors.badRequest('The request must be multipart/form-data with `file` and `purpose`.', null, 'invalid_request');
    let purpose: string | undefined;
    let writer: FileWriter | undefined;
    try {
      for await (const part of mp.parts()) {
        if (part.type === 'file') {
          if (part.fieldname !== 'file' || writer) {
            part.file.resume();
            continue;
          }
          writer = await this.files.receive(caller.userId, part.filename || 'upload.jsonl', part.file);
        } else if (part.fieldname === 'purpose') {
          purpose = String(part.value);
        }
      }
      if (!writer) throw Errors.badRequest("Missing required parameter: 'file'.", 'file', 'missing_required_parameter');
      if (purpose === undefined) throw Errors.badRequest("Missing required parameter: 'purpose'.", 'purpose', 'missing_required_parameter');
      if (purpose !== 'batch') throw Errors.badRequest(`Invalid value for 'purpose': this server accepts only 'batch', not '${purpose}'.`, 'purpose', 'invalid_value');
      const file = await this.files.publish(writer, caller.userId);
      await reply.status(200).type('application/json').send(file);
    } catch (err) {
      if (writer) await this.files.discard(writer.fileId).catch(() => undefined);
      throw err;
    }
  }

  @Get(['v1/files', 'api/files'])
  list(@Query() query: unknown, @Caller() caller: BatchCaller) {
    return this.files.list(caller.userId, parseRequest(listQuerySchema, query ?? {}));
  }

  @Get(['v1/files/:id', 'api/files/:id'])
  async get(@Param('id') id: string, @Caller() caller: BatchCaller) {
    return fileView(await this.files.get(caller.userId, id));
  }

  @Get(['v1/files/:id/content', 'api/files/:id/content'])
  async content(@Param('id') id: string, @Res() reply: FastifyReply, @Caller() caller: BatchCaller): Promise<void> {
    const f = await this.files.get(caller.userId, id);
    await reply
      .status(200)
      .header('content-length', String(f.bytes))
      .type('application/octet-stream')
      .send(Readable.from(this.files.content(f.id)));
  }

  @Delete(['v1/files/:id', 'api/files/:id'])
  remove(@Param('id') id: string, @Caller() caller: BatchCaller) {
    return this.files.remove(caller.userId, id);
  }
}
