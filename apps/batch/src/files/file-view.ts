import type { FileRow } from './files.repository';

/** OpenAI's `OpenAIFile`. */
export interface OpenAIFileObject {
  id: string;
  object: 'file';
  bytes: number;
  created_at: number;
  filename: string;
  purpose: string;
  status: 'processed';
}

export function fileView(f: FileRow): OpenAIFileObject {
  return {
    id: f.id,
    object: 'file',
    bytes: Number(f.bytes),
    created_at: Math.floor(new Date(f.created_at).getTime() / 1000),
    filename: f.filename,
    purpose: f.purpose,
    status: 'processed',
  };
}
