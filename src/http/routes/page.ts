import { z } from 'zod';

/** A keyset-paginated list response: `items` plus the cursor of the next page. */
export function pageSchema<Item extends z.ZodType>(item: Item, id: string) {
  return z
    .object({
      items: z.array(item),
      next_cursor: z.string().nullable().describe('Pass as `cursor` for the next page; null on the last page'),
    })
    .meta({ id });
}
