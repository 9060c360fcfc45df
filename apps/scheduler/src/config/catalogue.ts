import path from 'node:path';
import type { CatalogueModel } from '@switchyard/contracts';
import { loadModelCatalogue } from '@switchyard/config';
import type { SchedulerConfig } from './scheduler.config';

/** The model catalogue (`MODEL_CATALOGUE`, relative paths from the working directory). */
export const MODEL_CATALOGUE = Symbol('MODEL_CATALOGUE');

export function loadSchedulerCatalogue(config: Pick<SchedulerConfig, 'MODEL_CATALOGUE'>): CatalogueModel[] {
  return loadModelCatalogue(path.resolve(process.cwd(), config.MODEL_CATALOGUE));
}
