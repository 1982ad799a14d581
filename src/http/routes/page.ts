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

/** RFC 3339 UTC times (isoTime), as every wire schema types them. */
export const TimestampSchema = z.string().meta({ format: 'date-time' });

/** The `cursor` query parameter: the next_cursor of the previous page. */
export const PageCursorSchema = z.string().min(1).max(512).optional().describe('next_cursor of the previous page');

const LIMIT_MESSAGE = 'must be an integer between 1 and 500';

/** The `limit` query parameter every list route takes. */
export const PageLimitSchema = z.coerce
  .number({ error: LIMIT_MESSAGE })
  .int(LIMIT_MESSAGE)
  .min(1, LIMIT_MESSAGE)
  .max(500, LIMIT_MESSAGE)
  .optional()
  .describe('Page size (default 100)');
