import type { Locator, Page } from 'playwright-core';

/**
 * Bounded waits over the page (playwright-core has no `expect`): every wait
 * ends by itself, with a message saying what was awaited and what was seen.
 */

export const UI_WAIT_MS = 15_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns something other than undefined. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = UI_WAIT_MS): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (performance.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`);
    }
    await sleep(50);
  }
}

/** The locator's text once it matches `pattern` (the match). */
export async function textMatching(locator: Locator, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  let seen = '';
  try {
    return await until(what, async () => {
      seen = (await locator.first().textContent({ timeout: 1_000 })) ?? '';
      return pattern.exec(seen) ?? undefined;
    });
  } catch (error) {
    throw new Error(`${String(error)} (last text: ${JSON.stringify(seen)})`);
  }
}

/** One attribute of every element the locator matches, in page order (one round trip). */
export function attributeOfAll(locator: Locator, name: string): Promise<string[]> {
  // The callback runs in the page; the test's TypeScript has no DOM types, so the element is typed by what is used.
  return locator.evaluateAll(
    (elements: { getAttribute(attribute: string): string | null }[], attribute: string) =>
      elements.map((element) => element.getAttribute(attribute) ?? ''),
    name,
  );
}

/** The serials the console links to (`#/certificates/<serial>`) inside `scope`, in page order. */
export async function linkedSerials(scope: Locator | Page): Promise<string[]> {
  const hrefs = await attributeOfAll(scope.locator('a[href*="#/certificates/"]'), 'href');
  return hrefs.map((href) => href.slice(href.lastIndexOf('/') + 1)).filter((serial) => /^[0-9a-f]+$/.test(serial));
}

/** Waits until the linked serials in `scope` settle on a non-empty list that `accept` takes. */
export async function settledSerials(
  scope: Locator | Page,
  what: string,
  accept: (serials: string[]) => boolean = () => true,
): Promise<string[]> {
  return until(what, async () => {
    const serials = await linkedSerials(scope);
    return serials.length > 0 && accept(serials) ? serials : undefined;
  });
}

interface FocusDocument {
  document: {
    activeElement: {
      tagName: string;
      getAttribute(name: string): string | null;
      textContent: string | null;
      closest(selector: string): unknown;
    } | null;
    body: unknown;
  };
}

/**
 * Every serial a keyset-paged list shows, following its Next page button (in
 * `pager`) to the end; each page must bring serials not seen before.
 */
export async function serialsOverPages(
  list: Locator | Page,
  pager: Locator | Page,
  what: string,
): Promise<{ serials: string[]; pages: number }> {
  const serials: string[] = [];
  let pages = 0;
  for (;;) {
    const onPage = await settledSerials(list, `${what}, page ${pages + 1}`, (s) => !s.some((x) => serials.includes(x)));
    serials.push(...onPage);
    pages += 1;
    const next = pager.getByRole('button', { name: 'Next page' });
    if ((await next.count()) === 0 || !(await next.isEnabled())) break;
    if (pages >= 20) throw new Error(`${what}: still a Next page after 20 pages`);
    await next.click();
  }
  return { serials: serials.sort(), pages };
}

/** What has focus: its aria-label, else its short text, else its tag (BODY: nothing in the page). */
export async function focusedLabel(page: Page): Promise<string> {
  return page.evaluate(() => {
    const element = (globalThis as unknown as FocusDocument).document.activeElement;
    if (element === null) return '';
    const text = element.textContent?.trim() ?? '';
    return element.getAttribute('aria-label') ?? (text !== '' && text.length <= 80 ? text : element.tagName);
  });
}

/**
 * Whether focus is inside the open modal <dialog>, or on nothing in the page
 * (BODY: after the dialog's last element, Tab visits the browser's own UI
 * before it wraps round, as every native modal dialog does). False when an
 * element of the page outside the dialog has focus: the trap leaked.
 */
export async function focusTrappedInDialog(page: Page): Promise<boolean> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as FocusDocument).document;
    const element = doc.activeElement;
    return element === null || element === doc.body || element.closest('dialog[open]') != null;
  });
}

/** Whether the focused element shows it: an outline or a box-shadow (WCAG 2.4.7 Focus Visible). */
export async function focusIsVisible(page: Page): Promise<boolean> {
  return page.evaluate(`(() => {
    const element = document.activeElement;
    if (element === null || element === document.body) return true;
    const style = getComputedStyle(element);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    return outline || style.boxShadow !== 'none';
  })()`);
}

/** Answers the console's confirmations, whether native confirm() or a modal with a confirming button. */
export function acceptNativeDialogs(page: Page): void {
  page.on('dialog', (dialog) => {
    void dialog.accept();
  });
}
