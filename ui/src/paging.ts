/** Keyset paging state for any list: the cursors behind the current page, so "Previous page" can go back. */
import { useState } from 'preact/hooks';
import type { Page } from './api.js';
import { useLoad, type Loaded } from './load.js';

export interface Paging {
  /** The cursor of the page on screen (undefined: the first page). */
  readonly cursor: string | undefined;
  readonly hasPrevious: boolean;
  readonly next: (cursor: string) => void;
  readonly previous: () => void;
  readonly reset: () => void;
}

export function usePaging(): Paging {
  const [stack, setStack] = useState<readonly (string | undefined)[]>([undefined]);
  return {
    cursor: stack[stack.length - 1],
    hasPrevious: stack.length > 1,
    next: (cursor) => setStack([...stack, cursor]),
    previous: () => setStack(stack.length > 1 ? stack.slice(0, -1) : stack),
    reset: () => setStack([undefined]),
  };
}

/** A keyset-paged API list: the paging state and the page at its cursor, loaded again when `deps` or the cursor change. */
export function usePagedLoad<T>(
  fetchPage: (cursor: string | undefined) => Promise<Page<T>>,
  deps: readonly unknown[],
): { readonly paging: Paging; readonly page: Loaded<Page<T>> } {
  const paging = usePaging();
  const page = useLoad(() => fetchPage(paging.cursor), [...deps, paging.cursor]);
  return { paging, page };
}
