import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';

/** An unguessable global name, so a page cannot know it in advance. */
const NAME = `__riptide_nav_${randomBytes(8).toString('hex')}`;

/**
 * Added to every context (an init script runs in each top-level document before the page's own
 * scripts): remembers the last navigation the document started — a script's location.href, a js
 * action, a form, a meta refresh — through the Navigation API's `navigate` event, which fires
 * synchronously when the navigation starts. The browser reports the navigation's request only
 * later, so without this a render could finish before it learns that its page is leaving.
 * The page can read the record but not change it (a closure behind a non-configurable property);
 * at worst it hides its own navigation, and then the refused request is still refused and listed.
 */
export const NAVIGATION_PROBE_SCRIPT = `(() => {
  if (window !== window.top || !window.navigation) return;
  let started = null;
  window.navigation.addEventListener('navigate', (event) => {
    if (!event.hashChange && !event.downloadRequest) started = event.destination.url;
  });
  Object.defineProperty(window, ${JSON.stringify(NAME)}, { value: () => started });
})();`;

/**
 * The URL of a navigation the page's current document started and that has not replaced it yet;
 * null when there is none. A document that is already gone means its navigation committed.
 */
export async function startedNavigation(page: Page): Promise<string | null> {
  try {
    const started = await page.evaluate(`typeof window[${JSON.stringify(NAME)}] === 'function' ? window[${JSON.stringify(NAME)}]() : null`);
    return typeof started === 'string' ? started : null;
  } catch {
    return null;
  }
}
