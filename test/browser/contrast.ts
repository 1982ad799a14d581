import type { Page } from 'playwright-core';

/**
 * WCAG 2.1 contrast (SC 1.4.3, level AA) of the text a page shows, computed by
 * the browser itself: for every element with its own visible text, the
 * relative luminance (WCAG 2.1 "relative luminance", sRGB) of its colour (SVG
 * text: its fill) against the background it sits on (the nearest opaque
 * background, with translucent ones composited over it). 4.5:1, or 3:1 for
 * large text (at least 24 px, or 18.66 px bold). Disabled controls and text
 * clipped to nothing (visually hidden, for screen readers) are exempt, as the
 * SC says of inactive components and invisible text.
 */

export interface ContrastFailure {
  readonly text: string;
  readonly ratio: number;
  readonly required: number;
  readonly color: string;
  readonly background: string;
}

const CHECK = `(() => {
  const parse = (value) => {
    const m = /rgba?\\(([\\d.]+)[, ]+([\\d.]+)[, ]+([\\d.]+)(?:[,/ ]+([\\d.]+%?))?\\)/.exec(value || '');
    if (!m) return null;
    let a = m[4] === undefined ? 1 : m[4].endsWith('%') ? parseFloat(m[4]) / 100 : parseFloat(m[4]);
    return [parseFloat(m[1]), parseFloat(m[2]), parseFloat(m[3]), a];
  };
  const over = (top, bottom) => [0, 1, 2].map((i) => top[i] * top[3] + bottom[i] * (1 - top[3])).concat([1]);
  const channel = (c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4); };
  const luminance = (c) => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const background = (element) => {
    const layers = [];
    for (let e = element; e; e = e.parentElement) {
      if (e instanceof SVGElement && !(e instanceof SVGSVGElement)) continue;
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    let result = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) result = over(layers[i], result);
    return result;
  };
  const failures = [];
  const all = document.body.querySelectorAll('*');
  for (const element of all) {
    const own = [...element.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join('').trim();
    if (own === '') continue;
    const style = getComputedStyle(element);
    if (style.visibility !== 'visible' || style.display === 'none' || parseFloat(style.opacity) === 0) continue;
    const box = element.getBoundingClientRect();
    if (box.width <= 1 || box.height <= 1) continue;
    if (element.closest('[disabled], [aria-disabled="true"], [hidden], .visually-hidden, noscript')) continue;
    let hiddenByClip = false;
    for (let e = element; e; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.clip === 'rect(0px, 0px, 0px, 0px)' || s.clipPath === 'inset(50%)' || (s.position === 'absolute' && s.width === '1px' && s.height === '1px')) { hiddenByClip = true; break; }
    }
    if (hiddenByClip) continue;
    const isSvg = element instanceof SVGElement;
    let color = parse(isSvg ? style.fill : style.color);
    if (!color) continue;
    const bg = background(element);
    color = over(color, bg);
    const l1 = luminance(color), l2 = luminance(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(style.fontSize);
    const bold = parseInt(style.fontWeight, 10) >= 700;
    const required = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio + 1e-9 < required) {
      failures.push({ text: own.slice(0, 60), ratio: Math.round(ratio * 100) / 100, required, color: style.color + (isSvg ? ' fill ' + style.fill : ''), background: 'rgb(' + bg.slice(0, 3).map(Math.round).join(', ') + ')' });
    }
  }
  return failures;
})()`;

/** The page's text that falls short of WCAG AA contrast (empty when all of it passes). */
export async function contrastFailures(page: Page): Promise<ContrastFailure[]> {
  return page.evaluate<ContrastFailure[]>(CHECK);
}
