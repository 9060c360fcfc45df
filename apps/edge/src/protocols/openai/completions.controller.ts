import { Controller, Post, Req, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { chatCompletionRequestSchema, completionRequestSchema } from '@switchyard/contracts';
import { estimateChatTokens, estimateTextTokens } from '../../admission/token-estimate';
import type { AuthContext } from '../../auth/auth.service';
import { Errors, parseRequest, ChatRenderer, type CompletionRenderer, TextRenderer, chatToWork, completionToWork, promptText } from '@switchyard/openai';
import { ApiKeyGuard, Caller } from '../../pipeline/api-key.guard';
import { InferencePipeline, type InferenceRequest } from '../../pipeline/inference-pipeline.service';
import { openAIStream } from './openai-stream';

/** OpenAI's chat and text completions, under `/v1/` and under `/api/` (the portal's base URL). */
@Controller()
@UseGuards(ApiKeyGuard)
export class CompletionsController {
  constructor(private readonly pipeline: InferencePipeline) {}

  @Post(['v1/chat/completions', 'api/chat/completions'])
  async chat(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() ctx: AuthContext): Promise<void> {
    const req = parseRequest(chatCompletionRequestSchema, request.body);
    this.pipeline.label(request, req.model);
    rejectUnsupported(req.n, req.logprobs);
    const promptTokens = estimateChatTokens(req);
    const work: InferenceRequest = {
      model: req.model,
      endpoint: 'chat',
      work: chatToWork(req),
      stream: req.stream === true,
      contextTokens: promptTokens,
      promptTokens,
      maxTokens: req.max_completion_tokens ?? req.max_tokens ?? undefined,
      promptParam: 'messages',
      maxTokensParam: req.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens',
    };
    const renderer = new ChatRenderer(req.model, Math.floor(Date.now() / 1000));
    await this.answer({ request, reply }, ctx, work, renderer, req.stream_options?.include_usage === true);
  }

  @Post(['v1/completions', 'api/completions'])
  async completion(@Req() request: FastifyRequest, @Res() reply: FastifyReply, @Caller() ctx: AuthContext): Promise<void> {
    const req = parseRequest(completionRequestSchema, request.body);
    this.pipeline.label(request, req.model);
    rejectUnsupported(req.n, undefined);
    const generate = completionToWork(req);
    const promptTokens = estimateTextTokens(generate.prompt) + estimateTextTokens(generate.suffix ?? '') + 4;
    const work: InferenceRequest = {
      model: req.model,
      endpoint: 'completions',
      work: generate,
      stream: req.stream === true,
      contextTokens: promptTokens,
      promptTokens,
      maxTokens: req.max_tokens ?? undefined,
      promptParam: 'prompt',
      maxTokensParam: 'max_tokens',
    };
    const renderer = new TextRenderer(req.model, Math.floor(Date.now() / 1000), req.echo ? promptText(req) : undefined);
    await this.answer({ request, reply }, ctx, work, renderer, req.stream_options?.include_usage === true);
  }

  private async answer(http: { request: FastifyRequest; reply: FastifyReply }, ctx: AuthContext, req: InferenceRequest, renderer: CompletionRenderer, includeUsage: boolean): Promise<void> {
    if (req.stream) return this.pipeline.stream(http, ctx, req, openAIStream(renderer, includeUsage));
    const answer = await this.pipeline.whole(http, ctx, req);
    if (!answer) return;
    for (const chunk of answer.chunks) renderer.chunk(chunk);
    await http.reply.status(200).headers(answer.headers).type('application/json').send(renderer.body(answer.final));
  }
}

function rejectUnsupported(n: number | null | undefined, logprobs: boolean | null | undefined): void {
  if (n !== undefined && n !== null && n !== 1) {
    throw Errors.badRequest(`Only n=1 is supported: each request produces one choice (you asked for n=${n}).`, 'n', 'unsupported_value');
  }
  if (logprobs === true) throw Errors.badRequest('logprobs are not supported.', 'logprobs', 'unsupported_value');
}
