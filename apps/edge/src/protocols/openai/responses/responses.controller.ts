import { Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { responsesRequestSchema } from '@switchyard/contracts';
import type { AuthContext } from '../../../auth/auth.service';
import { parseRequest } from '@switchyard/openai';
import { ApiKeyGuard, Caller } from '../../../pipeline/api-key.guard';
import { InferencePipeline, type InferenceRequest } from '../../../pipeline/inference-pipeline.service';
import { ResponsesRenderer } from './renderer';
import { responsesStream } from './responses-stream';
import { estimateMessagesTokens } from '../../../admission/token-estimate';
import { refuseStateful, responsesToWork } from './translation';

/** OpenAI's Responses API (stateless), under `/v1/` and under `/api/` (the portal's base URL). */
@Controller()
@UseGuards(ApiKeyGuard)
export class ResponsesController {
  constructor(private readonly pipeline: InferencePipeline) {}

  @Post(['v1/responses', 'api/responses'])
  async create(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() ctx: AuthContext): Promise<void> {
    const req = parseRequest(responsesRequestSchema, request.body);
    this.pipeline.label(request, req.model);
    refuseStateful(req);
    const work = responsesToWork(req);
    const promptTokens = estimateMessagesTokens(work.messages, work.tools);
    const inference: InferenceRequest = {
      model: req.model,
      endpoint: 'chat',
      work,
      stream: req.stream === true,
      contextTokens: promptTokens,
      promptTokens,
      maxTokens: req.max_output_tokens ?? undefined,
      promptParam: 'input',
      maxTokensParam: 'max_output_tokens',
    };
    const renderer = new ResponsesRenderer(req, Math.floor(Date.now() / 1000));
    const http = { request, reply };
    if (inference.stream) return this.pipeline.stream(http, ctx, inference, responsesStream(renderer));
    const answer = await this.pipeline.whole(http, ctx, inference);
    if (!answer) return;
    for (const chunk of answer.chunks) renderer.chunk(chunk);
    renderer.finish(answer.final);
    await reply.status(200).headers(answer.headers).type('application/json').send(renderer.response());
  }
}
