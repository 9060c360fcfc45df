import path from 'node:path';
import { loadModelCatalogue, type ServedModel } from '@switchyard/config';
import type { SchedulerConfig } from './scheduler.config';

/** The model catalogue (`MODEL_CATALOGUE`, relative paths from the working directory), with its serving fields (`offload`). */
export const MODEL_CATALOGUE = Symbol('MODEL_CATALOGUE');

export function loadSchedulerCatalogue(config: Pick<SchedulerConfig, 'MODEL_CATALOGUE'>): ServedModel[] {
  return loadModelCatalogue(path.resolve(process.cwd(), config.MODEL_CATALOGUE));
}
