/**
 * Splits a byte stream of newline-delimited JSON into parsed values, one per non-empty line.
 * Multi-byte characters split across chunks are decoded correctly; a last line without a
 * trailing newline is still parsed.
 */
export async function* parseNdjson(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<unknown> {
  const decoder = new TextDecoder('utf-8');
  let buffered = '';
  for await (const chunk of body) {
    buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line.length > 0) yield JSON.parse(line) as unknown;
      newline = buffered.indexOf('\n');
    }
  }
  buffered += decoder.decode();
  const last = buffered.trim();
  if (last.length > 0) yield JSON.parse(last) as unknown;
}
