import { z } from 'zod';
import type { StackRef } from '../shared/names';
import type { Store } from '../store/store';

/** Pulumi's paging parameters: page from 1, pageSize 1 to 100. */
export const PageQuery = z.object({
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(100).default(10),
});

/** A stack is known once it has settings or a deployment; listing anything else is a 404. */
export async function stackExists(store: Store, ref: StackRef): Promise<boolean> {
  return (await store.getSettings(ref)) !== undefined || (await store.latestVersion(ref)) > 0;
}
