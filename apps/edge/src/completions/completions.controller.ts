import { Controller, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CompletionsService } from './completions.service';

/** OpenAI's chat and text completions, under `/v1/` and under `/api/` (the portal's base URL). */
@Controller()
export class CompletionsController {
  constructor(private readonly completions: CompletionsService) {}

  @Post(['v1/chat/completions', 'api/chat/completions'])
  chat(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.completions.chat(request, reply);
  }

  @Post(['v1/completions', 'api/completions'])
  completion(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.completions.completion(request, reply);
  }
}
