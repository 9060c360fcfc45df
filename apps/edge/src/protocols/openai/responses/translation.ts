import type { OllamaChatMessage, ResponsesContentPart, ResponsesInputItem, ResponsesRequest, Work } from '@switchyard/contracts';
import { Errors, imageData, parseArguments, toOptions } from '@switchyard/openai';

type ChatWork = Extract<Work, { kind: 'chat' }>;
type FunctionCallOutput = Extract<ResponsesInputItem, { type: 'function_call_output' }>;

const STATELESS =
  'This server is stateless: it stores no responses, so there is nothing to continue from. Send the whole conversation in `input` (earlier messages, function_call items and their function_call_output items).';

/** The parameters that would need stored state: refused with a 400 naming the parameter. */
export function refuseStateful(req: ResponsesRequest): void {
  if (req.previous_response_id) throw Errors.badRequest(`previous_response_id is not supported. ${STATELESS}`, 'previous_response_id', 'unsupported_parameter');
  if (req.conversation !== undefined && req.conversation !== null) throw Errors.badRequest(`conversation is not supported. ${STATELESS}`, 'conversation', 'unsupported_parameter');
  if (req.background === true) throw Errors.badRequest('background responses are not supported: nothing is stored to poll. Stream the response instead.', 'background', 'unsupported_parameter');
}

/**
 * A Responses request → the chat work of an `InferenceJob`: `instructions` first as a system message,
 * then the input items in order (a `function_call` joins the assistant turn before it; a
 * `function_call_output` is a `tool` message named after its call), function tools in Ollama's
 * shape (withheld for `tool_choice: "none"`, only the named one for a named choice),
 * `text.format` json_object → "json", json_schema → the schema, `max_output_tokens` → num_predict.
 */
export function responsesToWork(req: ResponsesRequest): ChatWork {
  if (req.input === undefined) throw Errors.badRequest("Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  const messages: OllamaChatMessage[] = [];
  if (req.instructions) messages.push({ role: 'system', content: req.instructions });
  const items: ResponsesInputItem[] = typeof req.input === 'string' ? [{ type: 'message', role: 'user', content: req.input }] : req.input;
  const callNames = new Map<string, string>();
  items.forEach((item, i) => {
    switch (item.type) {
      case 'message':
        messages.push(messageOf(item.role, item.content, i));
        return;
      case 'function_call': {
        callNames.set(item.call_id, item.name);
        const call = { function: { name: item.name, arguments: parseArguments(item.arguments, `input[${i}].arguments`) } };
        const last = messages[messages.length - 1];
        if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
        else messages.push({ role: 'assistant', content: '', tool_calls: [call] });
        return;
      }
      case 'function_call_output':
        messages.push(toolResult(item, i, callNames.get(item.call_id)));
        return;
      case 'item_reference':
        throw Errors.badRequest(
          `Items cannot be referenced by id (item_reference '${item.id}'). ${STATELESS} (With the AI SDK: providerOptions.openai.store = false.)`,
          `input[${i}]`,
          'unsupported_value',
        );
      default: {
        const never: never = item;
        return never;
      }
    }
  });
  const work: ChatWork = { kind: 'chat', messages, options: toOptions({ temperature: req.temperature, top_p: req.top_p }, req.max_output_tokens) };
  const tools = toolsOf(req);
  if (tools.length) work.tools = tools;
  const format = req.text?.format;
  if (format?.type === 'json_object') work.format = 'json';
  else if (format?.type === 'json_schema') work.format = format.schema;
  return work;
}

function messageOf(role: 'user' | 'assistant' | 'system' | 'developer', content: string | ResponsesContentPart[], i: number): OllamaChatMessage {
  const out: OllamaChatMessage = { role: role === 'developer' ? 'system' : role, content: '' };
  if (typeof content === 'string') out.content = content;
  else Object.assign(out, partsOf(content, `input[${i}].content`));
  return out;
}

function toolResult(item: FunctionCallOutput, i: number, name: string | undefined): OllamaChatMessage {
  const out: OllamaChatMessage = { role: 'tool', content: '' };
  if (typeof item.output === 'string') out.content = item.output;
  else Object.assign(out, partsOf(item.output, `input[${i}].output`));
  if (name) out.tool_name = name;
  return out;
}

/** Text parts joined with newlines (as chat completions joins them); images from data URLs. */
function partsOf(parts: ResponsesContentPart[], param: string): { content: string; images?: string[] } {
  const texts: string[] = [];
  const images: string[] = [];
  parts.forEach((part, j) => {
    switch (part.type) {
      case 'input_text':
      case 'output_text':
        texts.push(part.text);
        return;
      case 'refusal':
        texts.push(part.refusal);
        return;
      case 'input_image':
        if (!part.image_url) {
          throw Errors.badRequest('Only images given as base64 data URLs in image_url are supported (file_id is not).', `${param}[${j}].image_url`, 'invalid_image_url');
        }
        images.push(imageData(part.image_url, `${param}[${j}].image_url`));
        return;
      default: {
        const never: never = part;
        return never;
      }
    }
  });
  return images.length ? { content: texts.join('\n'), images } : { content: texts.join('\n') };
}

function toolsOf(req: ResponsesRequest): Array<Record<string, unknown>> {
  const choice = req.tool_choice;
  if (!req.tools?.length || choice === 'none') return [];
  let tools = req.tools;
  if (typeof choice === 'object') {
    tools = tools.filter((t) => t.name === choice.name);
    if (!tools.length) throw Errors.badRequest(`tool_choice names the function '${choice.name}', which is not in tools.`, 'tool_choice', 'invalid_value');
  }
  return tools.map((t) => ({
    type: 'function',
    function: { name: t.name, ...(t.description ? { description: t.description } : {}), ...(t.parameters ? { parameters: t.parameters } : {}) },
  }));
}
