import type { EmbeddingsResponse, RelayFinal, RelayMessage } from '@switchyard/contracts';
import { ChatRenderer, TextRenderer } from '@switchyard/openai';
import type { LineRender } from '../batches/lines.repository';

type RelayChunk = Extract<RelayMessage, { type: 'chunk' }>;

/** A line's response body, as the online endpoint would have answered a non-stream request. */
export function renderBody(model: string, render: LineRender, chunks: readonly RelayChunk[], final: RelayFinal): object {
  const created = Math.floor(Date.now() / 1000);
  if (render.kind === 'embed') {
    const vectors = final.embeddings ?? [];
    const used = final.usage.promptTokens;
    const body: EmbeddingsResponse = {
      object: 'list',
      model,
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: render.base64 ? toBase64Float32(v) : v })),
      usage: { prompt_tokens: used, total_tokens: used },
    };
    return body;
  }
  const renderer = render.kind === 'chat' ? new ChatRenderer(model, created) : new TextRenderer(model, created, render.echo);
  for (const c of chunks) renderer.chunk(c);
  return renderer.body(final);
}

/** Little-endian float32, base64 (what the openai SDK decodes for `encoding_format: "base64"`). */
export function toBase64Float32(vector: number[]): string {
  const buf = Buffer.allocUnsafe(vector.length * 4);
  vector.forEach((x, i) => buf.writeFloatLE(x, i * 4));
  return buf.toString('base64');
}
