import { Controller, HttpCode, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { anthropicCountTokensRequestSchema, anthropicMessagesRequestSchema, type AnthropicTokenCount } from '@switchyard/contracts';
import { AdmissionService } from '../../admission/admission.service';
import type { AuthContext } from '../../auth/auth.service';
import { parseRequest } from '@switchyard/openai';
import { ApiKeyGuard, Caller } from '../../pipeline/api-key.guard';
import { InferencePipeline, type InferenceRequest } from '../../pipeline/inference-pipeline.service';
import { anthropicStream } from './anthropic-stream';
import { MessageRenderer } from './renderer';
import { estimateMessagesTokens } from '../../admission/token-estimate';
import { messagesToWork, promptOf } from './translation';

/**
 * Anthropic's Messages API under `/v1/` and `/api/`: the key from `x-api-key` (or Bearer),
 * `anthropic-version` accepted whatever its value, `anthropic-beta` ignored.
 */
@Controller()
@UseGuards(ApiKeyGuard)
export class MessagesController {
  constructor(
    private readonly pipeline: InferencePipeline,
    private readonly admission: AdmissionService,
  ) {}

  @Post(['v1/messages', 'api/messages', 'api/v1/messages'])
  async create(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() ctx: AuthContext): Promise<void> {
    const req = parseRequest(anthropicMessagesRequestSchema, request.body);
    this.pipeline.label(request, req.model);
    const work = messagesToWork(req);
    const promptTokens = estimateMessagesTokens(work.messages, work.tools);
    const inference: InferenceRequest = {
      model: req.model,
      endpoint: 'chat',
      work,
      stream: req.stream === true,
      contextTokens: promptTokens,
      promptTokens,
      maxTokens: req.max_tokens,
      promptParam: 'messages',
      maxTokensParam: 'max_tokens',
    };
    const renderer = new MessageRenderer(req.model, promptTokens);
    const http = { request, reply };
    if (inference.stream) return this.pipeline.stream(http, ctx, inference, anthropicStream(renderer));
    const answer = await this.pipeline.whole(http, ctx, inference);
    if (!answer) return;
    for (const chunk of answer.chunks) renderer.chunk(chunk);
    await reply.status(200).headers(answer.headers).type('application/json').send(renderer.body(answer.final));
  }

  /** The edge's own estimate of the prompt (characters / 3 and per-message overheads, as admission counts it), not the model's tokenizer. */
  @Post(['v1/messages/count_tokens', 'api/messages/count_tokens', 'api/v1/messages/count_tokens'])
  @HttpCode(200)
  countTokens(@Req() request: FastifyRequest, @Caller() ctx: AuthContext): AnthropicTokenCount {
    const req = parseRequest(anthropicCountTokensRequestSchema, request.body);
    this.pipeline.label(request, req.model);
    this.admission.resolveModel(ctx, req.model);
    const prompt = promptOf(req);
    return { input_tokens: estimateMessagesTokens(prompt.messages, prompt.tools) };
  }
}
